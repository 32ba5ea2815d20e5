// Where a relay run resumes, and what it does after a failure: it reads what the stream holds
// (the relay's last message and the stream's last sequence) and republishes the rest with the same
// ids, so nothing is lost and nothing is doubled, whatever happened to the acknowledgements.

#include <algorithm>

#include "codec.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/wait.hpp"
#include "relay/session.hpp"
#include "status.hpp"

namespace reflex::rnats::detail {

std::string RelaySession::resume() {
  jsOptions jo = conn_->js_options();
  jsErrCode jerr{};
  jsStreamInfo* raw = nullptr;
  const natsStatus s = js_GetStreamInfo(&raw, conn_->js.get(), options_.stream.c_str(), &jo, &jerr);
  if (s == NATS_NOT_FOUND) {
    throw NotFound("relay \"" + options_.name + "\": stream \"" + options_.stream +
                   "\" does not exist; create it first (ensure_stream)");
  }
  check(s, "relay \"" + options_.name + "\": get info of stream \"" + options_.stream + "\"", jerr);
  const detail::StreamInfoPtr info(raw);
  const auto last = read_last();
  committed_seq_ = info->State.LastSeq;
  if (last) {
    if (last->second != info->State.LastSeq) throw not_exclusive(info->State.LastSeq);
    committed_id_ = last->first;
    return detail::decode_header_value(committed_id_.substr(prefix_.size()));
  }
  if (info->State.Msgs > 0) throw not_exclusive(info->State.LastSeq);
  if (options_.start_after) return *options_.start_after;
  if (options_.cursors) {
    if (auto cursor = options_.cursors->get(options_.name); !cursor.empty()) return cursor;
  }
  if (info->State.LastSeq > 0) {
    throw ConfigError("relay \"" + options_.name + "\": stream \"" + options_.stream +
                      "\" has had messages (last sequence " + std::to_string(info->State.LastSeq) +
                      ") but holds none of this relay's any more (aged out or purged), so "
                      "where to resume is unknown; give the relay a cursor store or set "
                      "RelayOptions.start_after");
  }
  return {};
}

std::optional<std::pair<std::string, std::uint64_t>> RelaySession::read_last() {
  jsOptions jo = conn_->js_options();
  jsErrCode jerr{};
  natsMsg* raw = nullptr;
  const natsStatus s =
      js_GetLastMsg(&raw, conn_->js.get(), options_.stream.c_str(), filter_.c_str(), &jo, &jerr);
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s,
        "relay \"" + options_.name + "\": read the last message on \"" + filter_ +
            "\" of stream \"" + options_.stream + "\"",
        jerr);
  const MsgPtr msg(raw);
  // As written (prefix and encoded event id): it is compared with the ids of this run and sent
  // back as the expected last id, so only the event id in it is ever decoded.
  const std::string id = detail::header_value(msg.get(), header::msg_id);
  if (id.compare(0, prefix_.size(), prefix_) != 0) {
    throw ConfigError("relay \"" + options_.name + "\": the last message on \"" + filter_ +
                      "\" of stream \"" + options_.stream + "\" has Nats-Msg-Id \"" + id +
                      "\", which this relay did not write; a relay needs subjects (and a "
                      "stream) of its own");
  }
  return std::make_pair(id, natsMsg_GetSequence(msg.get()));
}

ConfigError RelaySession::not_exclusive(std::uint64_t last_seq) const {
  return ConfigError("relay \"" + options_.name + "\": stream \"" + options_.stream +
                     "\" holds messages on other subjects than \"" + filter_ +
                     "\" (its last sequence " + std::to_string(last_seq) +
                     " is not this relay's); a relay guards the stream's order and needs the "
                     "stream to itself");
}

void RelaySession::recover() {
  if (failure_ == Failure::fatal) {
    throw Error("relay \"" + options_.name + "\": " + failure_text_);
  }
  note_recovery(failure_text_);
  if (!pause()) return;
  for (;;) {
    try {
      resync();
      report();
      backoff_ = options_.retry_backoff;
      return;
    } catch (const Error& e) {
      if (!e.retryable() || natsConnection_IsClosed(conn_->nc.get())) throw;
      note_recovery(e.what());
      if (!pause()) return;
    }
  }
}

void RelaySession::resync() {
  const auto last = read_last();
  jsOptions jo = conn_->js_options();
  jsErrCode jerr{};
  jsStreamInfo* raw = nullptr;
  check(js_GetStreamInfo(&raw, conn_->js.get(), options_.stream.c_str(), &jo, &jerr),
        "relay \"" + options_.name + "\": get info of stream \"" + options_.stream + "\"", jerr);
  const detail::StreamInfoPtr info(raw);
  const std::uint64_t stream_last = info->State.LastSeq;
  std::size_t stored = 0;  // how many window entries the stream holds
  if (last) {
    if (last->second != stream_last) throw not_exclusive(stream_last);
    if (last->first != committed_id_) {
      const auto it = std::find_if(window_.begin(), window_.end(),
                                   [&](const Pending& p) { return p.msg_id == last->first; });
      if (it == window_.end()) {
        throw Error("relay \"" + options_.name + "\": stream \"" + options_.stream +
                    "\" ends with \"" + last->first +
                    "\", which this run did not publish: is another relay with the same name "
                    "running?");
      }
      stored = static_cast<std::size_t>(it - window_.begin()) + 1;
    }
  } else if (!committed_id_.empty()) {
    throw Error("relay \"" + options_.name + "\": stream \"" + options_.stream +
                "\" no longer holds the relay's messages (purged while relaying?)");
  }
  for (std::size_t i = 0; i < stored; ++i) {
    commit_front(i + 1 == stored ? last->second : 0);
  }
  committed_seq_ = stream_last;
  failure_ = Failure::none;
  failure_text_.clear();
  // Nothing is in flight now; answers to earlier publishes no longer match any number.
  for (auto& p : window_) p.status = Pending::Status::failed;
  in_flight_ = 0;
  {
    std::lock_guard lock(st_->mu);
    st_->stats.republished += window_.size();
  }
  now_ = Clock::now();
  for (std::size_t i = 0; i < window_.size(); ++i) {
    publish(window_[i], i == 0 ? committed_seq_ : 0,
            i == 0 ? committed_id_ : window_[i - 1].msg_id);
    if (failure_ != Failure::none) return;  // could not even send: recover again
  }
  synced_ = window_.empty();
}

}  // namespace reflex::rnats::detail
