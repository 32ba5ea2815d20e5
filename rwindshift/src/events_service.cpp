#include "reflex/rwindshift/events_service.hpp"

#include <string>
#include <utility>

#include "events_impl.hpp"
#include "events_stream.hpp"
#include "reflex/rnats/errors.hpp"
#include "reflex/rwindshift/names.hpp"
#include "status.hpp"
#include "timestamps.hpp"

namespace reflex::rwindshift {
namespace detail {
namespace {

using rnats::ConsumeFrom;

// windshift's stream pointers: start, end, a time or a stream sequence ("offset"); a pointer
// with none of them set means "from now on", as in windshift.
ConsumeFrom to_consume_from(const pb::StreamPointer& p) {
  switch (p.pointer_case()) {
    case pb::StreamPointer::kStart:
      return ConsumeFrom::beginning();
    case pb::StreamPointer::kTime:
      return ConsumeFrom::at(from_proto(p.time()));
    case pb::StreamPointer::kOffset:
      if (p.offset() > 0) return ConsumeFrom::at_sequence(p.offset());
      return ConsumeFrom::end();
    default:
      return ConsumeFrom::end();
  }
}

// A source of a mirror or an aggregate; without a pointer it copies every retained event.
rnats::StreamSource to_source(const pb::EnsureStreamRequest::StreamSource& s) {
  rnats::StreamSource out{.name = s.name()};
  if (s.has_from()) out.from = to_consume_from(s.from());
  out.filter_subjects.assign(s.filter_subjects().begin(), s.filter_subjects().end());
  return out;
}

std::optional<grpc::Status> check_source(const pb::EnsureStreamRequest::StreamSource& s,
                                         const char* what) {
  if (!is_valid_name(s.name())) {
    return invalid(std::string(what) + " config invalid: invalid stream name: " + s.name());
  }
  for (const auto& f : s.filter_subjects()) {
    if (!is_valid_subject(f, true)) {
      return invalid(std::string(what) + " config invalid: invalid subject: " + f);
    }
  }
  return std::nullopt;
}

std::chrono::milliseconds remaining(const grpc::ServerContextBase& ctx,
                                    std::chrono::milliseconds limit) {
  const auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return limit;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::system_clock::now());
  left = std::max(left, std::chrono::milliseconds(1));
  return limit.count() > 0 ? std::min(left, limit) : left;
}

std::string metadata(const grpc::ServerContextBase& ctx, const char* key) {
  const auto& md = ctx.client_metadata();
  const auto it = md.find(key);
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

}  // namespace

EventsServiceImpl::EventsServiceImpl(rnats::Connection nats, EventsServiceOptions options)
    : nats_(std::move(nats)),
      options_(std::move(options)),
      publisher_(nats_, {.max_pending = options_.publish_async_max_pending}) {}

EventsServiceImpl::~EventsServiceImpl() {
  shutdown();
}

grpc::Status EventsServiceImpl::EnsureStream(grpc::ServerContext*,
                                             const pb::EnsureStreamRequest* req,
                                             pb::EnsureStreamResponse*) {
  if (!is_valid_name(req->name())) return invalid("invalid stream name: " + req->name());
  // Declarative: the configuration is built from the request alone, so what it leaves out
  // returns to its default on update.
  rnats::StreamConfig config{.name = req->name()};
  if (req->has_retention_policy()) {
    const auto& p = req->retention_policy();
    if (p.has_max_age()) config.max_age = from_proto(p.max_age());
    config.max_events = static_cast<std::int64_t>(p.max_events());
    config.max_events_per_subject = static_cast<std::int64_t>(p.max_events_per_subject());
    config.max_bytes = static_cast<std::int64_t>(p.max_bytes());
    if (p.discard_policy() == pb::EnsureStreamRequest::DISCARD_POLICY_NEW) {
      config.discard = rnats::Discard::new_messages;
    }
    config.discard_new_per_subject = p.discard_new_per_subject();
  }
  switch (req->source_case()) {
    case pb::EnsureStreamRequest::kSubjects:
      for (const auto& s : req->subjects().subjects()) {
        if (!is_valid_subject(s, true)) return invalid("invalid subject: " + s);
      }
      config.subjects.assign(req->subjects().subjects().begin(), req->subjects().subjects().end());
      break;
    case pb::EnsureStreamRequest::kMirror:
      if (auto bad = check_source(req->mirror(), "mirror")) return *bad;
      config.mirror = to_source(req->mirror());
      break;
    case pb::EnsureStreamRequest::kAggregate:
      for (const auto& s : req->aggregate().sources()) {
        if (auto bad = check_source(s, "source")) return *bad;
        config.sources.push_back(to_source(s));
      }
      break;
    default:
      return invalid("a source must be specified for the stream");
  }
  if (req->has_storage()) {
    if (req->storage().has_replicas()) {
      if (req->storage().replicas() == 0) return invalid("replicas must be greater than 0");
      config.replicas = static_cast<int>(req->storage().replicas());
    }
    if (req->storage().type() == pb::EnsureStreamRequest::STORAGE_TYPE_MEMORY) {
      config.storage = rnats::Storage::memory;
    }
  }
  // windshift's default window is 2 minutes (JetStream's too, but stated so it survives updates).
  config.duplicate_window = req->has_deduplication_window()
                                ? from_proto(req->deduplication_window())
                                : std::chrono::minutes(2);
  if (config.duplicate_window < std::chrono::milliseconds::zero()) {
    return invalid("deduplication window must not be negative");
  }
  if (req->max_event_size() > 0) {
    if (req->max_event_size() > static_cast<std::uint32_t>(INT32_MAX)) {
      return invalid("max event size too large: " + std::to_string(req->max_event_size()));
    }
    config.max_event_size = static_cast<std::int32_t>(req->max_event_size());
  }
  try {
    rnats::ensure_stream(nats_, config);
    return grpc::Status::OK;
  } catch (...) {
    return to_status(std::current_exception(), "ensure stream " + req->name());
  }
}

grpc::Status EventsServiceImpl::EnsureConsumer(grpc::ServerContext*,
                                               const pb::EnsureConsumerRequest* req,
                                               pb::EnsureConsumerResponse* res) {
  if (!is_valid_name(req->stream())) return invalid("invalid stream: " + req->stream());
  if (req->subjects().empty()) return invalid("one or more subjects must be specified");
  for (const auto& s : req->subjects()) {
    if (!is_valid_subject(s, true)) return invalid("invalid subject: " + s);
  }
  const bool durable = req->has_name() && !req->name().empty();
  if (durable && !is_valid_name(req->name())) {
    return invalid("invalid consumer name: " + req->name());
  }
  rnats::ConsumerConfig config{.stream = req->stream(), .name = durable ? req->name() : ""};
  if (req->subjects_size() == 1) {
    config.filter_subject = req->subjects(0);
  } else {
    config.filter_subjects.assign(req->subjects().begin(), req->subjects().end());
  }
  config.processing_timeout = std::chrono::seconds(30);
  if (req->has_processing_timeout()) {
    const auto timeout = from_proto(req->processing_timeout());
    if (timeout > std::chrono::milliseconds::zero()) config.processing_timeout = timeout;
  }
  // windshift's default start is "new events only"; an existing durable consumer keeps its
  // position (rnats applies `from` on creation only).
  config.from = req->has_from() ? to_consume_from(req->from()) : ConsumeFrom::end();
  config.max_pending = 1000;  // JetStream's default for pull consumers, which windshift keeps
  config.inactive_threshold =
      durable ? options_.durable_inactive_threshold : options_.ephemeral_inactive_threshold;
  config.pull = true;
  try {
    res->set_id(rnats::ensure_consumer(nats_, config).name);
    return grpc::Status::OK;
  } catch (...) {
    return to_status(std::current_exception(), "ensure consumer of stream " + req->stream());
  }
}

grpc::Status EventsServiceImpl::DeleteConsumer(grpc::ServerContext*,
                                               const pb::DeleteConsumerRequest* req,
                                               pb::DeleteConsumerResponse*) {
  if (!is_valid_name(req->stream())) return invalid("invalid stream: " + req->stream());
  if (!is_valid_name(req->id())) return invalid("invalid consumer id: " + req->id());
  try {
    if (!rnats::delete_consumer(nats_, req->stream(), req->id())) {
      return {grpc::StatusCode::NOT_FOUND,
              "consumer " + req->id() + " of stream " + req->stream() + " not found"};
    }
    return grpc::Status::OK;
  } catch (...) {
    return to_status(std::current_exception(), "delete consumer " + req->id());
  }
}

namespace {

// What a failed publish tells the client, as windshift-server says it.
grpc::Status publish_status(const std::exception_ptr& error, const pb::PublishEventRequest& req,
                            const rnats::Connection& nats) {
  try {
    std::rethrow_exception(error);
  } catch (const rnats::NoStreamForSubject&) {
    return {grpc::StatusCode::NOT_FOUND,
            "unbound subject, no stream found for subject: " + req.subject()};
  } catch (const rnats::RevisionConflict& e) {
    return {grpc::StatusCode::FAILED_PRECONDITION,
            "wrong sequence: expected last id " + std::to_string(req.expected_last_id()) +
                " on subject " + req.subject() + " (" + e.what() + ")"};
  } catch (const Unavailable&) {
    if (nats.connected()) return {grpc::StatusCode::DEADLINE_EXCEEDED, "publish timed out"};
    return {grpc::StatusCode::UNAVAILABLE, "publish failed: NATS is not connected"};
  } catch (...) {
    return to_status(std::current_exception(), "publish to " + req.subject());
  }
}

}  // namespace

grpc::ServerUnaryReactor* EventsServiceImpl::PublishEvent(grpc::CallbackServerContext* ctx,
                                                          const pb::PublishEventRequest* req,
                                                          pb::PublishEventResponse* res) {
  auto* reactor = ctx->DefaultReactor();
  if (!is_valid_subject(req->subject(), false)) {
    reactor->Finish(invalid("invalid subject: " + req->subject()));
    return reactor;
  }
  if (!req->has_data()) {
    reactor->Finish(invalid("no data specified"));
    return reactor;
  }
  rnats::WindshiftEvent event{.subject = req->subject()};
  const auto& type_url = req->data().type_url();
  const auto slash = type_url.rfind('/');
  event.data_type = slash == std::string::npos ? type_url : type_url.substr(slash + 1);
  event.data = req->data().value();
  event.published =
      req->has_timestamp() ? from_proto(req->timestamp()) : std::chrono::system_clock::now();
  if (req->has_idempotency_key()) event.idempotency_key = req->idempotency_key();
  // windshift continues the caller's trace (W3C trace context in the call's metadata).
  event.trace_parent = metadata(*ctx, "traceparent");
  event.trace_state = metadata(*ctx, "tracestate");
  try {
    auto message = rnats::windshift_message(event);
    // windshift's expected_last_id is the last id on the event's subject.
    if (req->has_expected_last_id()) {
      message.expected_last_subject_sequence = req->expected_last_id();
    }
    message.timeout = remaining(*ctx, options_.publish_timeout);
    // The request and response live until Finish; the callback runs once, on the publisher's
    // thread, and only finishes the call.
    publisher_.publish(message, [this, reactor, req, res](rnats::PublishOutcome outcome) {
      if (outcome.error) {
        reactor->Finish(publish_status(outcome.error, *req, nats_));
        return;
      }
      res->set_id(outcome.result.sequence);
      reactor->Finish(grpc::Status::OK);
    });
  } catch (...) {
    reactor->Finish(publish_status(std::current_exception(), *req, nats_));
  }
  return reactor;
}

grpc::ServerBidiReactor<pb::EventsRequest, pb::EventsResponse>* EventsServiceImpl::Events(
    grpc::CallbackServerContext* ctx) {
  std::lock_guard lock(streams_mu_);
  if (stopping_) return new EventsStream(*this, shutting_down());
  if (streams_.size() >= options_.max_event_streams) {
    return new EventsStream(*this,
                            grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                         "too many open event streams (" +
                                             std::to_string(options_.max_event_streams) + ")"));
  }
  auto* stream = new EventsStream(*this, ctx);
  streams_.insert(stream);
  return stream;
}

void EventsServiceImpl::forget(EventsStream* stream) {
  std::lock_guard lock(streams_mu_);
  streams_.erase(stream);
}

void EventsServiceImpl::shutdown() {
  std::lock_guard lock(streams_mu_);
  stopping_ = true;
  for (auto* stream : streams_) stream->end(shutting_down());
}

}  // namespace detail

EventsService::EventsService(rnats::Connection nats, EventsServiceOptions options)
    : impl_(std::make_unique<detail::EventsServiceImpl>(std::move(nats), std::move(options))) {}

EventsService::~EventsService() = default;

grpc::Service* EventsService::service() noexcept {
  return impl_.get();
}

void EventsService::shutdown() {
  impl_->shutdown();
}

}  // namespace reflex::rwindshift
