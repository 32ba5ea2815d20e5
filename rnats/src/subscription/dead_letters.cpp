// Dead letters: the copy of an event that failed for good into its dead-letter stream (created
// on demand), and the replay of one (see DeadLetterOptions in streams.hpp).

#include "reflex/encoding.hpp"
#include "subscription/state.hpp"

namespace reflex::rnats::detail {

void SubscriptionState::dead_letter(DeliveryState& d, const std::string& reason,
                                    std::uint64_t attempts) {
  const std::string& target = dead->stream;
  OutgoingEvent out;
  out.subject = target + "." + consumer + "." + d.subject;
  out.data = d.data();
  for (const auto& [key, value] : d.headers()) {
    // JetStream's own headers (the id, publish expectations) belong to the original publish.
    if (key.rfind("Nats-", 0) == 0) continue;
    out.headers[key] = value;
  }
  if (auto it = d.headers().find(header::msg_id); it != d.headers().end()) {
    out.headers[header::dead_letter_msg_id] = it->second;
  }
  out.headers[header::dead_letter_stream] = stream;
  out.headers[header::dead_letter_subject] = d.subject;
  out.headers[header::dead_letter_sequence] = std::to_string(d.sequence);
  out.headers[header::dead_letter_consumer] = consumer;
  out.headers[header::dead_letter_reason] = encode_header_value(reason);
  out.headers[header::dead_letter_attempts] = std::to_string(attempts);
  out.headers[header::dead_letter_time] = format_rfc3339(std::chrono::system_clock::now());
  out.idempotency_key = "dead-letter:" + stream + ":" + consumer + ":" + std::to_string(d.sequence);
  const Connection connection(Access::connection(conn));
  try {
    try {
      publish(connection, out);
    } catch (const NoStreamForSubject&) {
      // Created on demand, on the first dead letter.
      ensure_stream(connection, {.name = target,
                                 .description = "dead letters of stream " + stream,
                                 .subjects = {target + ".>"},
                                 .storage = dead->storage,
                                 .duplicate_window = std::chrono::minutes(2)});
      publish(connection, out);
    }
  } catch (...) {
    ++dead_letter_failures;
    throw;
  }
  ++dead_lettered;
}

}  // namespace reflex::rnats::detail

namespace reflex::rnats {

std::string dead_letter_stream(std::string_view stream) {
  return std::string(stream) + "-dead-letters";
}

OutgoingEvent replay_message(const Delivery& dead_letter) {
  const auto& h = dead_letter.headers();
  const auto subject = h.find(header::dead_letter_subject);
  const auto origin = h.find(header::dead_letter_stream);
  if (subject == h.end() || origin == h.end()) {
    throw ConfigError("replay_message: event " + std::to_string(dead_letter.sequence()) + " on \"" +
                      dead_letter.subject() + "\" is no dead letter (it has no " +
                      header::dead_letter_subject + " header)");
  }
  OutgoingEvent out;
  out.subject = subject->second;
  out.data = dead_letter.data();
  for (const auto& [key, value] : h) {
    if (key.rfind("Reflex-Dead-Letter-", 0) == 0 || key.rfind("Nats-", 0) == 0) continue;
    out.headers[key] = value;
  }
  // The dead letter's own stream is the first token of its subject.
  const std::string& dl_subject = dead_letter.subject();
  out.idempotency_key = "replay:" + dl_subject.substr(0, dl_subject.find('.')) + ":" +
                        std::to_string(dead_letter.sequence());
  return out;
}

}  // namespace reflex::rnats
