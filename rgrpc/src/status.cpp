// Status mapping between reflex errors and gRPC statuses, on both ends of a stream.
//
// Go reflex (luno/reflex) servers end streams with jettison errors: status UNKNOWN, the error's
// message, and jettison details (jettisonpb.Hop and jettisonpb.WrappedError packed in Any, in
// grpc-status-details-bin) that carry a stable error code. Go clients with jettison's gRPC
// interceptors compare those codes to recognise reflex.ErrStopped and reflex.ErrHeadReached. Our
// server sends the same details (with a more precise status code), and our client recognises
// them from Go servers.
#include "status.hpp"

#include <array>
#include <cstdint>

#include "reflex/errors.hpp"
#include "reflex/rgrpc/errors.hpp"

namespace reflex::rgrpc::detail {
namespace {

// Jettison codes of reflex.ErrStopped and reflex.ErrHeadReached in luno/reflex.
constexpr std::string_view kStoppedCode = "ERR_09290f5944cb8671";
constexpr std::string_view kHeadReachedCode = "ERR_b4b155d2a91cfcd0";
constexpr std::string_view kStoppedMessage = "the event stream has been stopped";
constexpr std::string_view kHeadReachedMessage = "the event stream has reached the current head";

// How luno/reflex's sources reject a cursor. Its server (server.go, Server.Stream and
// serveStream) returns the source's error as it is, wrapped as "recv error 2: ..." when Recv
// failed, so gRPC sends UNKNOWN with the error's text (and, with jettison's interceptor, the
// jettison codes in the details).
// - rsql (rsql/eventstable.go, streamClient.Recv): an `after` that strconv.ParseInt rejects is
//   rsql.ErrInvalidIntID (rsql/errors.go), code ERR_82d0368b5478d378.
constexpr std::string_view kInvalidIdCode = "ERR_82d0368b5478d378";
constexpr std::string_view kInvalidIdMessage = "invalid id, only int supported";
// - rblob (rblob/blob.go): parseCursor's "invalid cursor" / "invalid cursor offset", and
//   loadCurrentBlob's "cursor out of range" / "cursor was eof" for a cursor past its blob's
//   events; errors without codes, so only their exact text tells.
constexpr std::array<std::string_view, 5> kCursorMessages = {
    kInvalidIdMessage, "invalid cursor", "invalid cursor offset", "cursor out of range",
    "cursor was eof"};

// Minimal protobuf encoding (varints and length-delimited fields) for the three small messages
// of the details; not worth generated code with global descriptor names of other projects.
void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

void put_int(std::string& out, int field, std::int64_t value) {
  put_varint(out, static_cast<std::uint64_t>(field) << 3);
  put_varint(out, static_cast<std::uint64_t>(value));
}

// google.rpc.Status{code, message, details: [Any(jettisonpb.Hop), Any(jettisonpb.WrappedError)]}
std::string jettison_details(grpc::StatusCode code, std::string_view message,
                             std::string_view jettison_code) {
  std::string error;  // jettisonpb.Error{message = 1, code = 4}
  put_bytes(error, 1, message);
  put_bytes(error, 4, jettison_code);
  std::string hop;  // jettisonpb.Hop{binary = 1, errors = 2}
  put_bytes(hop, 1, "reflex-cpp");
  put_bytes(hop, 2, error);
  std::string wrapped;  // jettisonpb.WrappedError{message = 1, code = 7}
  put_bytes(wrapped, 1, message);
  put_bytes(wrapped, 7, jettison_code);

  std::string any_hop;  // google.protobuf.Any{type_url = 1, value = 2}
  put_bytes(any_hop, 1, "type.googleapis.com/jettisonpb.Hop");
  put_bytes(any_hop, 2, hop);
  std::string any_wrapped;
  put_bytes(any_wrapped, 1, "type.googleapis.com/jettisonpb.WrappedError");
  put_bytes(any_wrapped, 2, wrapped);

  std::string status;
  put_int(status, 1, static_cast<int>(code));
  put_bytes(status, 2, message);
  put_bytes(status, 3, any_hop);
  put_bytes(status, 3, any_wrapped);
  return status;
}

grpc::Status jettison_status(grpc::StatusCode code, std::string_view message,
                             std::string_view jettison_code) {
  return {code, std::string(message), jettison_details(code, message, jettison_code)};
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// True when `message` is `error`'s text, alone or as the innermost of jettison's "outer: inner".
bool ends_with_error(std::string_view message, std::string_view error) {
  if (!message.ends_with(error)) return false;
  const auto rest = message.substr(0, message.size() - error.size());
  return rest.empty() || rest.ends_with(": ");
}

// A luno/reflex source rejected the cursor: its jettison code, or (on UNKNOWN, what Go servers
// send for plain errors) one of the exact texts. Other UNKNOWNs stay retryable.
bool luno_cursor_error(grpc::StatusCode code, std::string_view message, std::string_view details) {
  if (contains(details, kInvalidIdCode)) return true;
  if (code != grpc::StatusCode::UNKNOWN) return false;
  for (const auto text : kCursorMessages) {
    if (ends_with_error(message, text)) return true;
  }
  return false;
}

}  // namespace

grpc::Status stopped_status() {
  // UNAVAILABLE: the generic "try again (elsewhere/later)" code, so non-reflex clients retry too.
  return jettison_status(grpc::StatusCode::UNAVAILABLE, kStoppedMessage, kStoppedCode);
}

grpc::Status status_for(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const HeadReached&) {
    return jettison_status(grpc::StatusCode::OUT_OF_RANGE, kHeadReachedMessage, kHeadReachedCode);
  } catch (const Stopped&) {
    return stopped_status();
  } catch (const CursorError& e) {
    return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
  } catch (const ConfigError& e) {
    return {grpc::StatusCode::FAILED_PRECONDITION, e.what()};
  } catch (const Error& e) {
    return {e.retryable() ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::INTERNAL, e.what()};
  } catch (const std::exception& e) {
    return {grpc::StatusCode::UNKNOWN, e.what()};
  } catch (...) {
    return {grpc::StatusCode::UNKNOWN, "the event source threw an unknown exception"};
  }
}

std::exception_ptr error_for(const grpc::Status& status, const std::string& what) {
  const auto code = status.error_code();
  const std::string& message = status.error_message();
  // The codes may sit in nested jettison messages (a Go server wraps source errors): the raw
  // details are searched, which is exact enough for 20-character random codes.
  const std::string& details = status.error_details();
  if (contains(details, kStoppedCode) ||
      ((code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::UNKNOWN) &&
       contains(message, kStoppedMessage))) {
    return std::make_exception_ptr(Stopped("rgrpc: " + what + " was stopped by the server (" +
                                           message + "); reconnect to resume from the cursor"));
  }
  if (contains(details, kHeadReachedCode) || code == grpc::StatusCode::OUT_OF_RANGE ||
      (code == grpc::StatusCode::UNKNOWN && contains(message, kHeadReachedMessage))) {
    return std::make_exception_ptr(HeadReached());
  }
  const std::string text =
      "rgrpc: " + what + " failed: " + status_code_name(static_cast<int>(code)) + ": " + message;
  if (luno_cursor_error(code, message, details)) {
    return std::make_exception_ptr(CursorError(
        text + " (the server's source rejected the cursor; it will not accept it on a retry)"));
  }
  switch (code) {
    case grpc::StatusCode::OK:
      // Servers of reflex streams never end them successfully; treat it like a stop.
      return std::make_exception_ptr(
          Stopped("rgrpc: " + what + " ended without an error; reconnect to resume"));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:  // not by us: the caller handles its own cancellation
      return std::make_exception_ptr(Unavailable(text));
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return std::make_exception_ptr(AuthError(
          text + " (set the client's token to the server's, or check the TLS client certificate)",
          static_cast<int>(code)));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return std::make_exception_ptr(CursorError(text));
    case grpc::StatusCode::NOT_FOUND:
      return std::make_exception_ptr(
          ConfigError(text + " (check the stream name the client sends)"));
    case grpc::StatusCode::UNIMPLEMENTED:
      return std::make_exception_ptr(
          ConfigError(text + " (the server does not serve this method: check the method name)"));
    case grpc::StatusCode::UNKNOWN:
      return std::make_exception_ptr(RemoteError(text, static_cast<int>(code), true));
    default:
      return std::make_exception_ptr(RemoteError(text, static_cast<int>(code), false));
  }
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of `a` is looked at whatever `b` holds; lengths are not secret.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const unsigned char other = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ other);
  }
  return diff == 0;
}

}  // namespace reflex::rgrpc::detail

namespace reflex::rgrpc {

const char* status_code_name(int code) noexcept {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace reflex::rgrpc
