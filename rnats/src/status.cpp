#include "status.hpp"

#include "reflex/errors.hpp"
#include "reflex/rnats/errors.hpp"

namespace reflex::rnats::detail {

std::string error_text(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  std::string_view detail = (text != nullptr && last == s) ? std::string_view(text) : "";
  // nats.c prefixes its messages with the source location: "(js.c:535): wrong last sequence: 2".
  if (!detail.empty() && detail.front() == '(') {
    if (auto end = detail.find("): "); end != std::string_view::npos) detail.remove_prefix(end + 3);
  }
  std::string generic = natsStatus_GetText(s);
  if (detail.empty() || detail == generic) return generic;
  return std::string(detail);
}

bool is_unavailable(natsStatus s) noexcept {
  switch (s) {
    case NATS_IO_ERROR:
    case NATS_CONNECTION_CLOSED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_TIMEOUT:
    case NATS_NOT_YET_CONNECTED:
    case NATS_SLOW_CONSUMER:
    case NATS_MISSED_HEARTBEAT:
      return true;
    default:
      return false;
  }
}

namespace {

// Cluster leadership changes and temporary unavailability heal by themselves.
bool retryable_code(int code) noexcept {
  return code == JSClusterNotAvailErr || code == JSClusterNotLeaderErr ||
         code == JSClusterIncompleteErr || code == JSClusterNoPeersErr;
}

}  // namespace

void throw_refusal(std::string_view what, std::string_view description, int err_code) {
  const std::string message = std::string(what) + ": " + std::string(description) +
                              " (JetStream error " + std::to_string(err_code) + ")";
  if (err_code == JSStreamWrongLastSequenceErr || err_code == JSStreamWrongLastMsgIDErr) {
    throw RevisionConflict(message);
  }
  if (err_code == JSStreamNotFoundErr || err_code == JSConsumerNotFoundErr ||
      err_code == JSNoMessageFoundErr) {
    throw NotFound(message);
  }
  throw JetStreamError(message, static_cast<int>(NATS_ERR), err_code, retryable_code(err_code));
}

void throw_status(natsStatus s, std::string_view what, jsErrCode code) {
  const std::string text = error_text(s);
  std::string message = std::string(what) + ": " + text;
  if (code != 0) message += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";

  if (code == JSStreamWrongLastSequenceErr || code == JSStreamWrongLastMsgIDErr ||
      text.find("wrong last sequence") != std::string::npos ||
      text.find("wrong last msg ID") != std::string::npos) {
    throw RevisionConflict(message);
  }
  if (is_unavailable(s)) throw Unavailable(message);
  if (s == NATS_NO_RESPONDERS) {
    throw Unavailable(message + "; is JetStream enabled on the server (nats-server -js)?");
  }
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr || code == JSConsumerNotFoundErr ||
      code == JSNoMessageFoundErr) {
    throw NotFound(message);
  }
  if (s == NATS_INVALID_ARG || s == NATS_INVALID_SUBJECT || s == NATS_INVALID_QUEUE_NAME ||
      s == NATS_INVALID_TIMEOUT || s == NATS_MAX_PAYLOAD) {
    throw ConfigError(message);
  }
  throw JetStreamError(message, static_cast<int>(s), static_cast<int>(code), retryable_code(code));
}

}  // namespace reflex::rnats::detail
