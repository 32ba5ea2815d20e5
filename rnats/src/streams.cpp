#include "reflex/rnats/streams.hpp"

#include "access.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "status.hpp"

namespace reflex::rnats {

namespace {

using detail::check;
using std::chrono::duration_cast;
using std::chrono::nanoseconds;

std::int64_t nanos(std::chrono::milliseconds d) {
  return duration_cast<nanoseconds>(d).count();
}

// Names of streams and consumers become subject tokens: refuse what would break them.
void check_name(std::string_view name, std::string_view what, bool allow_empty = false) {
  if (name.empty()) {
    if (allow_empty) return;
    throw ConfigError(std::string(what) + " name is empty");
  }
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\') {
      throw ConfigError(std::string(what) + " name \"" + std::string(name) +
                        "\" is invalid: use letters, digits, '-' and '_' (no '.', '*', '>', "
                        "'/', spaces)");
    }
  }
}

StreamInfo to_info(const jsStreamInfo& si) {
  return StreamInfo{
      .name = si.Config != nullptr && si.Config->Name != nullptr ? si.Config->Name : "",
      .messages = si.State.Msgs,
      .bytes = si.State.Bytes,
      .first_sequence = si.State.FirstSeq,
      .last_sequence = si.State.LastSeq,
      .consumers = si.State.Consumers};
}

ConsumerInfo to_info(const jsConsumerInfo& ci) {
  return ConsumerInfo{
      .stream = ci.Stream != nullptr ? ci.Stream : "",
      .name = ci.Name != nullptr ? ci.Name : "",
      .durable = ci.Config != nullptr && ci.Config->Durable != nullptr && *ci.Config->Durable,
      .pending = ci.NumPending,
      .ack_pending = ci.NumAckPending,
      .redelivered = ci.NumRedelivered};
}

// Errors of a create or update request are about the configuration unless they are transient.
[[noreturn]] void throw_config(natsStatus s, const std::string& what, jsErrCode jerr) {
  try {
    detail::throw_status(s, what, jerr);
  } catch (const JetStreamError& e) {
    if (e.retryable()) throw;
    throw ConfigError(e.what());
  }
}

}  // namespace

StreamInfo ensure_stream(const Connection& connection, const StreamConfig& config) {
  check_name(config.name, "stream");
  if (config.replicas < 1 || config.replicas > 5) {
    throw ConfigError("stream \"" + config.name + "\": replicas must be 1..5");
  }
  auto& conn = *detail::Access::state(connection);
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = config.name.c_str();
  if (!config.description.empty()) sc.Description = config.description.c_str();
  std::vector<const char*> subjects;
  for (const auto& s : config.subjects) subjects.push_back(s.c_str());
  sc.Subjects = subjects.empty() ? nullptr : subjects.data();
  sc.SubjectsLen = static_cast<int>(subjects.size());
  if (config.max_age.count() > 0) sc.MaxAge = nanos(config.max_age);
  if (config.max_events > 0) sc.MaxMsgs = config.max_events;
  if (config.max_events_per_subject > 0) sc.MaxMsgsPerSubject = config.max_events_per_subject;
  if (config.max_bytes > 0) sc.MaxBytes = config.max_bytes;
  if (config.max_event_size > 0) sc.MaxMsgSize = config.max_event_size;
  sc.Discard = config.discard == Discard::new_messages ? js_DiscardNew : js_DiscardOld;
  sc.Storage = config.storage == Storage::memory ? js_MemoryStorage : js_FileStorage;
  sc.Replicas = config.replicas;
  if (config.duplicate_window.count() > 0) sc.Duplicates = nanos(config.duplicate_window);

  jsOptions jo = conn.js_options();
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr{};
  const std::string what = "ensure stream \"" + config.name + "\"";
  natsStatus s = js_GetStreamInfo(&raw, conn.js.get(), config.name.c_str(), &jo, &jerr);
  detail::StreamInfoPtr existing(raw);
  raw = nullptr;
  if (s == NATS_NOT_FOUND) {
    jerr = {};
    s = js_AddStream(&raw, conn.js.get(), &sc, &jo, &jerr);
    // Another process created it in between: fall through to an update.
    if (s != NATS_OK && jerr != JSStreamNameExistErr) throw_config(s, what, jerr);
  } else if (s != NATS_OK) {
    detail::throw_status(s, what, jerr);
  }
  if (raw == nullptr) {
    jerr = {};
    s = js_UpdateStream(&raw, conn.js.get(), &sc, &jo, &jerr);
    if (s != NATS_OK) throw_config(s, what + " (update)", jerr);
  }
  const detail::StreamInfoPtr info(raw);
  return to_info(*info);
}

std::optional<StreamInfo> stream_info(const Connection& connection, std::string_view name) {
  check_name(name, "stream");
  auto& conn = *detail::Access::state(connection);
  const std::string stream(name);
  jsOptions jo = conn.js_options();
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr{};
  const natsStatus s = js_GetStreamInfo(&raw, conn.js.get(), stream.c_str(), &jo, &jerr);
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s, "get info of stream \"" + stream + "\"", jerr);
  const detail::StreamInfoPtr info(raw);
  return to_info(*info);
}

bool delete_stream(const Connection& connection, std::string_view name) {
  check_name(name, "stream");
  auto& conn = *detail::Access::state(connection);
  const std::string stream(name);
  jsOptions jo = conn.js_options();
  jsErrCode jerr{};
  const natsStatus s = js_DeleteStream(conn.js.get(), stream.c_str(), &jo, &jerr);
  if (s == NATS_NOT_FOUND) return false;
  check(s, "delete stream \"" + stream + "\"", jerr);
  return true;
}

PublishResult publish(const Connection& connection, const OutgoingEvent& event) {
  if (event.subject.empty()) throw ConfigError("publish: OutgoingEvent.subject is empty");
  if (event.expected_last_sequence && *event.expected_last_sequence == 0) {
    throw ConfigError(
        "publish to \"" + event.subject +
        "\": expected_last_sequence must be positive (JetStream cannot check for an empty "
        "stream; use expected_last_subject_sequence = 0 for an empty subject)");
  }
  auto& conn = *detail::Access::state(connection);
  const detail::MsgPtr msg = detail::message(event);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (!event.idempotency_key.empty()) po.MsgId = event.idempotency_key.c_str();
  if (event.expected_last_sequence) po.ExpectLastSeq = *event.expected_last_sequence;
  if (event.expected_last_subject_sequence) {
    if (*event.expected_last_subject_sequence == 0) {
      po.ExpectNoMessage = true;
    } else {
      po.ExpectLastSubjectSeq = *event.expected_last_subject_sequence;
    }
  }
  po.MaxWait = (event.timeout.count() > 0 ? event.timeout : conn.options.request_timeout).count();

  jsPubAck* ack = nullptr;
  jsErrCode jerr{};
  const natsStatus s = js_PublishMsg(&ack, conn.js.get(), msg.get(), &po, &jerr);
  if (s == NATS_NO_RESPONDERS) {
    throw NoStreamForSubject("publish to \"" + event.subject +
                             "\": no JetStream stream is bound to this subject; add it to a "
                             "stream's subjects (ensure_stream)");
  }
  check(s, "publish to \"" + event.subject + "\"", jerr);
  const detail::PubAckPtr owned(ack);
  return PublishResult{.stream = ack->Stream != nullptr ? ack->Stream : "",
                       .sequence = ack->Sequence,
                       .duplicate = ack->Duplicate};
}

ConsumerInfo ensure_consumer(const Connection& connection, const ConsumerConfig& config) {
  check_name(config.stream, "stream");
  check_name(config.name, "consumer", /*allow_empty=*/true);
  if (config.processing_timeout <= std::chrono::milliseconds::zero()) {
    throw ConfigError("consumer of \"" + config.stream + "\": processing_timeout must be positive");
  }
  if (config.max_pending < 1) {
    throw ConfigError("consumer of \"" + config.stream + "\": max_pending must be at least 1");
  }
  if (config.from.kind == ConsumeFrom::Kind::sequence && config.from.sequence == 0) {
    throw ConfigError("consumer of \"" + config.stream + "\": sequences start at 1");
  }
  auto& conn = *detail::Access::state(connection);
  const bool durable = !config.name.empty();
  const std::string what = "ensure consumer \"" + (durable ? config.name : "(ephemeral)") +
                           "\" of stream \"" + config.stream + "\"";

  // Durables deliver to a fixed subject and queue group (named after the consumer), so every
  // subscriber of any process joins the same group; ephemerals to a fresh inbox.
  std::string deliver;
  if (durable) {
    deliver = "_reflex.deliver." + config.stream + "." + config.name;
  } else {
    natsInbox* inbox = nullptr;
    check(natsInbox_Create(&inbox), what);
    deliver = inbox;
    natsInbox_Destroy(inbox);
  }

  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  if (durable) {
    cc.Durable = config.name.c_str();
    cc.DeliverGroup = config.name.c_str();
  }
  if (!config.description.empty()) cc.Description = config.description.c_str();
  cc.DeliverSubject = deliver.c_str();
  if (!config.filter_subject.empty()) cc.FilterSubject = config.filter_subject.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = nanos(config.processing_timeout);
  cc.MaxDeliver = config.max_delivery_attempts > 0 ? config.max_delivery_attempts : -1;
  cc.MaxAckPending = config.max_pending;
  if (!durable && config.inactive_threshold.count() > 0) {
    cc.InactiveThreshold = nanos(config.inactive_threshold);
  }
  switch (config.from.kind) {
    case ConsumeFrom::Kind::beginning:
      cc.DeliverPolicy = js_DeliverAll;
      break;
    case ConsumeFrom::Kind::end:
      cc.DeliverPolicy = js_DeliverNew;
      break;
    case ConsumeFrom::Kind::time:
      cc.DeliverPolicy = js_DeliverByStartTime;
      cc.OptStartTime = detail::to_unix_nanos(config.from.time);
      break;
    case ConsumeFrom::Kind::sequence:
      cc.DeliverPolicy = js_DeliverByStartSequence;
      cc.OptStartSeq = config.from.sequence;
      break;
  }

  jsOptions jo = conn.js_options();
  jsConsumerInfo* raw = nullptr;
  jsErrCode jerr{};
  natsStatus s = NATS_NOT_FOUND;
  if (durable) {
    s = js_GetConsumerInfo(&raw, conn.js.get(), config.stream.c_str(), config.name.c_str(), &jo,
                           &jerr);
    detail::ConsumerInfoPtr existing(raw);
    raw = nullptr;
    if (s == NATS_OK) {
      jerr = {};
      s = js_UpdateConsumer(&raw, conn.js.get(), config.stream.c_str(), &cc, &jo, &jerr);
      if (s != NATS_OK) throw_config(s, what + " (update)", jerr);
      const detail::ConsumerInfoPtr info(raw);
      return to_info(*info);
    }
    if (s != NATS_NOT_FOUND) detail::throw_status(s, what, jerr);
  }
  jerr = {};
  s = js_AddConsumer(&raw, conn.js.get(), config.stream.c_str(), &cc, &jo, &jerr);
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
    throw NotFound(what + ": stream \"" + config.stream + "\" does not exist");
  }
  if (s != NATS_OK) throw_config(s, what, jerr);
  const detail::ConsumerInfoPtr info(raw);
  return to_info(*info);
}

std::optional<ConsumerInfo> consumer_info(const Connection& connection, std::string_view stream,
                                          std::string_view name) {
  check_name(stream, "stream");
  check_name(name, "consumer");
  auto& conn = *detail::Access::state(connection);
  const std::string s_name(stream), c_name(name);
  jsOptions jo = conn.js_options();
  jsConsumerInfo* raw = nullptr;
  jsErrCode jerr{};
  const natsStatus s =
      js_GetConsumerInfo(&raw, conn.js.get(), s_name.c_str(), c_name.c_str(), &jo, &jerr);
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s, "get info of consumer \"" + c_name + "\" of stream \"" + s_name + "\"", jerr);
  const detail::ConsumerInfoPtr info(raw);
  return to_info(*info);
}

bool delete_consumer(const Connection& connection, std::string_view stream, std::string_view name) {
  check_name(stream, "stream");
  check_name(name, "consumer");
  auto& conn = *detail::Access::state(connection);
  const std::string s_name(stream), c_name(name);
  jsOptions jo = conn.js_options();
  jsErrCode jerr{};
  const natsStatus s = js_DeleteConsumer(conn.js.get(), s_name.c_str(), c_name.c_str(), &jo, &jerr);
  if (s == NATS_NOT_FOUND) return false;
  check(s, "delete consumer \"" + c_name + "\" of stream \"" + s_name + "\"", jerr);
  return true;
}

}  // namespace reflex::rnats
