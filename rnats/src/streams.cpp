#include "reflex/rnats/streams.hpp"

#include <algorithm>

#include "access.hpp"
#include "codec.hpp"
#include "connection_state.hpp"
#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"
#include "status.hpp"
#include "subjects.hpp"

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

std::string text(const char* s) {
  return s != nullptr ? s : "";
}

std::chrono::milliseconds millis(std::int64_t ns) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(nanoseconds(ns));
}

// The server reports "unlimited" as -1; our configurations say 0.
template <class T>
T limit(T value) {
  return value > 0 ? value : T{0};
}

ConsumeFrom source_from(const jsStreamSource& src) {
  if (src.OptStartSeq > 0) return ConsumeFrom::at_sequence(src.OptStartSeq);
  if (src.OptStartTime > 0) return ConsumeFrom::at(detail::from_unix_nanos(src.OptStartTime));
  return ConsumeFrom::beginning();
}

StreamSource to_source(const jsStreamSource& src) {
  StreamSource out{.name = text(src.Name), .from = source_from(src)};
  if (src.FilterSubject != nullptr && *src.FilterSubject != '\0') {
    out.filter_subjects.emplace_back(src.FilterSubject);
  }
  return out;
}

StreamConfig to_config(const jsStreamConfig& c) {
  StreamConfig out{.name = text(c.Name), .description = text(c.Description)};
  for (int i = 0; i < c.SubjectsLen; ++i) out.subjects.emplace_back(c.Subjects[i]);
  if (c.Mirror != nullptr) out.mirror = to_source(*c.Mirror);
  for (int i = 0; i < c.SourcesLen; ++i) out.sources.push_back(to_source(*c.Sources[i]));
  out.max_age = millis(limit(c.MaxAge));
  out.max_events = limit(c.MaxMsgs);
  out.max_events_per_subject = limit(c.MaxMsgsPerSubject);
  out.max_bytes = limit(c.MaxBytes);
  out.max_event_size = limit(c.MaxMsgSize);
  out.discard = c.Discard == js_DiscardNew ? Discard::new_messages : Discard::old_messages;
  out.discard_new_per_subject = c.DiscardNewPerSubject;
  out.storage = c.Storage == js_MemoryStorage ? Storage::memory : Storage::file;
  out.replicas = static_cast<int>(c.Replicas);
  out.duplicate_window = millis(c.Duplicates);
  return out;
}

StreamInfo to_info(const jsStreamInfo& si) {
  StreamInfo info{.name = si.Config != nullptr ? text(si.Config->Name) : "",
                  .messages = si.State.Msgs,
                  .bytes = si.State.Bytes,
                  .first_sequence = si.State.FirstSeq,
                  .last_sequence = si.State.LastSeq,
                  .consumers = si.State.Consumers};
  if (si.Config != nullptr) info.config = to_config(*si.Config);
  if (si.Cluster != nullptr) {
    info.leader = text(si.Cluster->Leader);
    for (int i = 0; i < si.Cluster->ReplicasLen; ++i) {
      if (si.Cluster->Replicas[i] != nullptr)
        info.replicas.push_back(text(si.Cluster->Replicas[i]->Name));
    }
  }
  return info;
}

ConsumeFrom consumer_from(const jsConsumerConfig& c) {
  switch (c.DeliverPolicy) {
    case js_DeliverNew:
      return ConsumeFrom::end();
    case js_DeliverByStartTime:
      return ConsumeFrom::at(detail::from_unix_nanos(c.OptStartTime));
    case js_DeliverByStartSequence:
      return ConsumeFrom::at_sequence(c.OptStartSeq);
    default:
      return ConsumeFrom::beginning();
  }
}

ConsumerInfo to_info(const jsConsumerInfo& ci) {
  ConsumerInfo info{
      .stream = text(ci.Stream),
      .name = text(ci.Name),
      .durable = ci.Config != nullptr && ci.Config->Durable != nullptr && *ci.Config->Durable,
      .pending = ci.NumPending,
      .ack_pending = ci.NumAckPending,
      .redelivered = ci.NumRedelivered};
  if (const jsConsumerConfig* c = ci.Config; c != nullptr) {
    auto& out = info.config;
    out.stream = info.stream;
    out.name = info.durable ? info.name : "";
    detail::split_filter_line(text(c->Description), out.description, out.filter_subjects);
    if (out.filter_subjects.empty()) out.filter_subject = text(c->FilterSubject);
    out.pull = c->DeliverSubject == nullptr || *c->DeliverSubject == '\0';
    out.processing_timeout = millis(c->AckWait);
    out.from = consumer_from(*c);
    out.max_delivery_attempts = static_cast<int>(limit(c->MaxDeliver));
    out.max_pending = static_cast<int>(c->MaxAckPending);
    out.inactive_threshold = millis(c->InactiveThreshold);
  }
  return info;
}

// nats-server 2.9 filters a source (and a consumer) by one subject: several pass only when one
// covers the rest.
const char* source_filter(const StreamSource& src, const std::string& stream) {
  if (src.filter_subjects.empty()) return nullptr;
  for (const auto& candidate : src.filter_subjects) {
    if (std::all_of(src.filter_subjects.begin(), src.filter_subjects.end(),
                    [&](const std::string& f) { return detail::covers(candidate, f); })) {
      return candidate.c_str();
    }
  }
  throw ConfigError("stream \"" + stream + "\": source \"" + src.name +
                    "\" has several filter subjects, none covering the others; nats-server 2.9 "
                    "filters a source by one subject (several need 2.10): give one subject that "
                    "covers them, or one source per stream");
}

// A jsStreamSource for `src`, starting where its `from` says (or where `existing` started: the
// position of a source the stream already has is its state, not configuration).
jsStreamSource to_js_source(const StreamSource& src, const std::string& stream,
                            const jsStreamSource* existing) {
  check_name(src.name, "source stream");
  if (src.name == stream) {
    throw ConfigError("stream \"" + stream + "\" cannot copy from itself");
  }
  jsStreamSource out;
  jsStreamSource_Init(&out);
  out.Name = src.name.c_str();
  out.FilterSubject = source_filter(src, stream);
  if (existing != nullptr) {
    out.OptStartSeq = existing->OptStartSeq;
    out.OptStartTime = existing->OptStartTime;
    return out;
  }
  switch (src.from.kind) {
    case ConsumeFrom::Kind::beginning:
      break;
    case ConsumeFrom::Kind::end:
      out.OptStartTime = detail::to_unix_nanos(std::chrono::system_clock::now());
      break;
    case ConsumeFrom::Kind::time:
      out.OptStartTime = detail::to_unix_nanos(src.from.time);
      break;
    case ConsumeFrom::Kind::sequence:
      if (src.from.sequence == 0) {
        throw ConfigError("stream \"" + stream + "\": source \"" + src.name +
                          "\": sequences start at 1");
      }
      out.OptStartSeq = src.from.sequence;
      break;
  }
  return out;
}

const jsStreamSource* find_source(const jsStreamConfig* config, const std::string& name) {
  if (config == nullptr) return nullptr;
  if (config->Mirror != nullptr && text(config->Mirror->Name) == name) return config->Mirror;
  for (int i = 0; i < config->SourcesLen; ++i) {
    if (text(config->Sources[i]->Name) == name) return config->Sources[i];
  }
  return nullptr;
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
  if (config.mirror && (!config.subjects.empty() || !config.sources.empty())) {
    throw ConfigError("stream \"" + config.name +
                      "\": a mirror has neither subjects nor sources of its own");
  }
  if (config.discard_new_per_subject &&
      (config.discard != Discard::new_messages || config.max_events_per_subject <= 0)) {
    throw ConfigError("stream \"" + config.name +
                      "\": discard_new_per_subject needs Discard::new_messages and "
                      "max_events_per_subject");
  }
  auto& conn = *detail::Access::state(connection);
  const std::string what = "ensure stream \"" + config.name + "\"";
  jsOptions jo = conn.js_options();
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr{};
  natsStatus s = js_GetStreamInfo(&raw, conn.js.get(), config.name.c_str(), &jo, &jerr);
  const detail::StreamInfoPtr existing(raw);
  raw = nullptr;
  if (s != NATS_OK && s != NATS_NOT_FOUND) detail::throw_status(s, what, jerr);
  const jsStreamConfig* old = existing ? existing->Config : nullptr;

  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = config.name.c_str();
  if (!config.description.empty()) sc.Description = config.description.c_str();
  std::vector<const char*> subjects;
  for (const auto& subject : config.subjects) subjects.push_back(subject.c_str());
  sc.Subjects = subjects.empty() ? nullptr : subjects.data();
  sc.SubjectsLen = static_cast<int>(subjects.size());
  jsStreamSource mirror;
  if (config.mirror) {
    mirror = to_js_source(*config.mirror, config.name, find_source(old, config.mirror->name));
    sc.Mirror = &mirror;
  }
  std::vector<jsStreamSource> sources;
  sources.reserve(config.sources.size());
  for (const auto& src : config.sources) {
    if (std::count_if(config.sources.begin(), config.sources.end(),
                      [&](const StreamSource& o) { return o.name == src.name; }) > 1) {
      throw ConfigError("stream \"" + config.name + "\": source \"" + src.name +
                        "\" is named twice");
    }
    sources.push_back(to_js_source(src, config.name, find_source(old, src.name)));
  }
  std::vector<jsStreamSource*> source_ptrs;
  for (auto& src : sources) source_ptrs.push_back(&src);
  sc.Sources = source_ptrs.empty() ? nullptr : source_ptrs.data();
  sc.SourcesLen = static_cast<int>(source_ptrs.size());
  if (config.max_age.count() > 0) sc.MaxAge = nanos(config.max_age);
  if (config.max_events > 0) sc.MaxMsgs = config.max_events;
  if (config.max_events_per_subject > 0) sc.MaxMsgsPerSubject = config.max_events_per_subject;
  if (config.max_bytes > 0) sc.MaxBytes = config.max_bytes;
  if (config.max_event_size > 0) sc.MaxMsgSize = config.max_event_size;
  sc.Discard = config.discard == Discard::new_messages ? js_DiscardNew : js_DiscardOld;
  sc.DiscardNewPerSubject = config.discard_new_per_subject;
  sc.Storage = config.storage == Storage::memory ? js_MemoryStorage : js_FileStorage;
  sc.Replicas = config.replicas;
  if (config.duplicate_window.count() > 0) sc.Duplicates = nanos(config.duplicate_window);

  if (!existing) {
    jerr = {};
    s = js_AddStream(&raw, conn.js.get(), &sc, &jo, &jerr);
    // Another process created it in between: fall through to an update.
    if (s != NATS_OK && jerr != JSStreamNameExistErr) throw_config(s, what, jerr);
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
  if (!config.filter_subject.empty() && !config.filter_subjects.empty()) {
    throw ConfigError("consumer of \"" + config.stream +
                      "\": set filter_subject or filter_subjects, not both");
  }
  for (const auto& f : config.filter_subjects) {
    if (f.empty()) {
      throw ConfigError("consumer of \"" + config.stream + "\": a filter subject is empty");
    }
    if (f.find_first_of(" \t\r\n") != std::string::npos) {
      throw ConfigError("consumer of \"" + config.stream + "\": filter subject \"" + f +
                        "\" has white space");
    }
  }
  auto& conn = *detail::Access::state(connection);
  const bool durable = !config.name.empty();
  const std::string what = "ensure consumer \"" + (durable ? config.name : "(ephemeral)") +
                           "\" of stream \"" + config.stream + "\"";

  // Durable push consumers deliver to a fixed subject and queue group (named after the
  // consumer), so every subscriber of any process joins the same group; ephemerals to a fresh
  // inbox. Pull consumers deliver to whoever asks.
  std::string deliver;
  if (config.pull) {
    // no delivery subject
  } else if (durable) {
    deliver = "_reflex.deliver." + config.stream + "." + config.name;
  } else {
    natsInbox* inbox = nullptr;
    check(natsInbox_Create(&inbox), what);
    deliver = inbox;
    natsInbox_Destroy(inbox);
  }

  // One server-side filter (see ConsumerConfig::filter_subjects); the rest is the subscription's.
  std::string filter = config.filter_subject;
  std::string description = config.description;
  if (config.filter_subjects.size() == 1) {
    filter = config.filter_subjects.front();
  } else if (config.filter_subjects.size() > 1) {
    if (auto member = detail::covering_member(config.filter_subjects)) {
      filter = std::move(*member);
    } else {
      filter = detail::covering_pattern(config.filter_subjects);
      description = detail::with_filter_line(description, config.filter_subjects);
    }
  }

  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  if (durable) {
    cc.Durable = config.name.c_str();
    if (!config.pull) cc.DeliverGroup = config.name.c_str();
  }
  if (!description.empty()) cc.Description = description.c_str();
  if (!config.pull) cc.DeliverSubject = deliver.c_str();
  if (!filter.empty()) cc.FilterSubject = filter.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = nanos(config.processing_timeout);
  cc.MaxDeliver = config.max_delivery_attempts > 0 ? config.max_delivery_attempts : -1;
  cc.MaxAckPending = config.max_pending;
  if (config.inactive_threshold.count() > 0)
    cc.InactiveThreshold = nanos(config.inactive_threshold);
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
      // Where it started is the consumer's history, not configuration: keep it (the server
      // refuses to change it).
      const jsConsumerConfig& old = *existing->Config;
      if ((old.DeliverSubject == nullptr || *old.DeliverSubject == '\0') != config.pull) {
        throw ConfigError(what + ": it exists as a " + (config.pull ? "push" : "pull") +
                          " consumer; a consumer cannot change between push and pull (delete "
                          "it to recreate it)");
      }
      cc.DeliverPolicy = old.DeliverPolicy;
      cc.OptStartSeq = old.OptStartSeq;
      cc.OptStartTime = old.OptStartTime;
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
