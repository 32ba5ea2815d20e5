// What goes over the wire, checked at the gRPC level: the end statuses luno/reflex (Go) clients
// rely on, and Go-style statuses read by our client.
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <reflex/reflex.hpp>
#include <reflex/rgrpc/generic.hpp>

#include "fixed_status.hpp"
#include "support.hpp"

namespace {

using namespace std::chrono_literals;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;
using rgrpc_test::client_error_for;
using rgrpc_test::luno_invalid_cursor;

// The jettison error codes inside grpc-status-details-bin, decoded without our encoder: a
// google.rpc.Status{code = 1, message = 2, details = 3 (Any{type_url = 1, value = 2})} whose Anys
// are jettisonpb.Hop{errors = 2 (Error{code = 4})} or jettisonpb.WrappedError{code = 7}.
struct Details {
  std::int64_t code = -1;
  std::string message;
  std::vector<std::string> hop_codes;
  std::vector<std::string> wrapped_codes;
};

Details decode(const std::string& bytes) {
  Details out;
  UnknownFieldSet status;
  EXPECT_TRUE(status.ParseFromString(bytes));
  for (int i = 0; i < status.field_count(); ++i) {
    const UnknownField& field = status.field(i);
    if (field.number() == 1) out.code = static_cast<std::int64_t>(field.varint());
    if (field.number() == 2) out.message = field.length_delimited();
    if (field.number() != 3) continue;
    UnknownFieldSet any;
    EXPECT_TRUE(any.ParseFromString(field.length_delimited()));
    std::string type_url;
    UnknownFieldSet value;
    for (int j = 0; j < any.field_count(); ++j) {
      if (any.field(j).number() == 1) type_url = any.field(j).length_delimited();
      if (any.field(j).number() == 2) {
        EXPECT_TRUE(value.ParseFromString(any.field(j).length_delimited()));
      }
    }
    for (int j = 0; j < value.field_count(); ++j) {
      if (type_url == "type.googleapis.com/jettisonpb.WrappedError" &&
          value.field(j).number() == 7) {
        out.wrapped_codes.push_back(value.field(j).length_delimited());
      }
      if (type_url == "type.googleapis.com/jettisonpb.Hop" && value.field(j).number() == 2) {
        UnknownFieldSet error;
        EXPECT_TRUE(error.ParseFromString(value.field(j).length_delimited()));
        for (int k = 0; k < error.field_count(); ++k) {
          if (error.field(k).number() == 4) {
            out.hop_codes.push_back(error.field(k).length_delimited());
          }
        }
      }
    }
  }
  return out;
}

grpc::Status end_status(reflexpb::Reflex::Stub& stub, const reflex::StreamOptions& options,
                        const std::function<void()>& while_open = {}) {
  grpc::ClientContext context;
  auto reader = stub.Stream(&context, reflex::rgrpc::to_request("", options));
  reflexpb::Event event;
  if (while_open) {
    EXPECT_TRUE(reader->Read(&event));
    while_open();
  }
  while (reader->Read(&event)) {
  }
  return reader->Finish();
}

TEST(WireCompatibility, HeadReachedAndStoppedCarryLunoReflexErrorCodes) {
  reflex::MemLog log;
  log.append(1, "a");
  reflex::rgrpc::Server server(log.stream_func());
  auto stub = reflexpb::Reflex::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));

  const auto head = end_status(*stub, {.to_head = true});
  EXPECT_EQ(head.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(head.error_message(), "the event stream has reached the current head");
  const auto head_details = decode(head.error_details());
  EXPECT_EQ(head_details.code, static_cast<int>(grpc::StatusCode::OUT_OF_RANGE));
  EXPECT_EQ(head_details.message, head.error_message());
  EXPECT_EQ(head_details.hop_codes, std::vector<std::string>{"ERR_b4b155d2a91cfcd0"});
  EXPECT_EQ(head_details.wrapped_codes, std::vector<std::string>{"ERR_b4b155d2a91cfcd0"});

  std::jthread stopper;
  const auto stopped =
      end_status(*stub, {}, [&] { stopper = std::jthread([&] { server.stop(); }); });
  EXPECT_EQ(stopped.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(stopped.error_message(), "the event stream has been stopped");
  const auto stopped_details = decode(stopped.error_details());
  EXPECT_EQ(stopped_details.hop_codes, std::vector<std::string>{"ERR_09290f5944cb8671"});
  EXPECT_EQ(stopped_details.wrapped_codes, std::vector<std::string>{"ERR_09290f5944cb8671"});
}

TEST(WireCompatibility, StatusesOfGoReflexServersMapToReflexErrors) {
  // luno/reflex without jettison's interceptor: UNKNOWN with the error's text.
  EXPECT_NE(reflex::find_error<reflex::Stopped>(
                client_error_for({grpc::StatusCode::UNKNOWN, "the event stream has been stopped"})),
            nullptr);
  EXPECT_NE(reflex::find_error<reflex::HeadReached>(
                client_error_for({grpc::StatusCode::UNKNOWN,
                                  "recv error: the event stream has reached the current head"})),
            nullptr);
  // With jettison details, the code decides whatever the text says.
  const auto details = [](const std::string& code) {
    // google.rpc.Status{details: [Any{type_url, value: WrappedError{code}}]}
    std::string wrapped = "\x3a" + std::string(1, static_cast<char>(code.size())) + code;
    const std::string url = "type.googleapis.com/jettisonpb.WrappedError";
    std::string any = "\x0a" + std::string(1, static_cast<char>(url.size())) + url + "\x12" +
                      std::string(1, static_cast<char>(wrapped.size())) + wrapped;
    return "\x1a" + std::string(1, static_cast<char>(any.size())) + any;
  };
  EXPECT_NE(reflex::find_error<reflex::Stopped>(client_error_for(
                {grpc::StatusCode::UNKNOWN, "recv error", details("ERR_09290f5944cb8671")})),
            nullptr);
  EXPECT_NE(reflex::find_error<reflex::HeadReached>(client_error_for(
                {grpc::StatusCode::UNKNOWN, "recv error", details("ERR_b4b155d2a91cfcd0")})),
            nullptr);
  // Any other failure of a Go source: retryable RemoteError carrying the code and text.
  const auto other = client_error_for({grpc::StatusCode::UNKNOWN, "db: connection refused"});
  const auto* remote = reflex::find_error<reflex::rgrpc::RemoteError>(other);
  ASSERT_NE(remote, nullptr);
  EXPECT_EQ(remote->code(), static_cast<int>(grpc::StatusCode::UNKNOWN));
  EXPECT_TRUE(remote->retryable());
  EXPECT_NE(std::string(remote->what()).find("db: connection refused"), std::string::npos);
}

TEST(WireCompatibility, ABadCursorOfALunoReflexSourceIsACursorErrorNotARetry) {
  for (const bool details : {true, false}) {
    SCOPED_TRACE(details ? "with jettison details" : "plain status");
    const auto error = client_error_for(luno_invalid_cursor(details));
    const auto* cursor = reflex::find_error<reflex::CursorError>(error);
    ASSERT_NE(cursor, nullptr);
    EXPECT_FALSE(reflex::is_retryable(error));
    EXPECT_NE(std::string(cursor->what()).find("recv error 2: invalid id, only int supported"),
              std::string::npos)
        << cursor->what();
  }
  // rblob's cursor errors carry no code: their exact text, alone or innermost, tells.
  for (const char* message :
       {"invalid cursor", "invalid cursor offset", "recv error 2: cursor out of range",
        "recv error 2: cursor was eof"}) {
    EXPECT_NE(reflex::find_error<reflex::CursorError>(
                  client_error_for({grpc::StatusCode::UNKNOWN, message})),
              nullptr)
        << message;
  }
  // Other UNKNOWNs stay retryable, also when they mention cursors; other codes keep their meaning.
  for (const char* message : {"db: connection refused", "recv error 2: invalid cursor table",
                              "invalid cursor offsets: timeout"}) {
    const auto error = client_error_for({grpc::StatusCode::UNKNOWN, message});
    EXPECT_EQ(reflex::find_error<reflex::CursorError>(error), nullptr) << message;
    EXPECT_TRUE(reflex::is_retryable(error)) << message;
  }
  const auto internal = client_error_for({grpc::StatusCode::INTERNAL, "invalid cursor"});
  EXPECT_EQ(reflex::find_error<reflex::CursorError>(internal), nullptr);
  EXPECT_NE(reflex::find_error<reflex::rgrpc::RemoteError>(internal), nullptr);
}

}  // namespace
