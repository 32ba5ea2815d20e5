// Messages whose header block is written as bytes (the relay's and the publishers' way) read back
// exactly like those built through nats.c's header API. What reaches JetStream is checked byte
// for byte in codec_test.
#include "message_builder.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "codec.hpp"
#include "reflex/rnats/codec.hpp"

namespace {

namespace rnats = reflex::rnats;
using rnats::detail::MessageBuilder;
using rnats::detail::MsgPtr;

std::map<std::string, std::string> headers_of(natsMsg* msg) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : rnats::detail::read_headers(msg)) out[name] = value;
  return out;
}

std::string data_of(natsMsg* msg) {
  return {natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))};
}

void expect_same(natsMsg* a, natsMsg* b) {
  EXPECT_STREQ(natsMsg_GetSubject(a), natsMsg_GetSubject(b));
  EXPECT_EQ(natsMsg_GetReply(a) == nullptr, natsMsg_GetReply(b) == nullptr);
  if (natsMsg_GetReply(a) != nullptr && natsMsg_GetReply(b) != nullptr) {
    EXPECT_STREQ(natsMsg_GetReply(a), natsMsg_GetReply(b));
  }
  EXPECT_EQ(data_of(a), data_of(b));
  EXPECT_EQ(headers_of(a), headers_of(b));
}

TEST(MessageBuilder, ReadsBackAsTheSameMessageBuiltThroughNatsCsHeaderApi) {
  MessageBuilder builder;
  builder.header("Nats-Msg-Id", "relay:42");
  builder.number_header("Reflex-Type", -7);
  builder.number_header("Nats-Expected-Last-Sequence", UINT64_MAX);
  builder.encoded_header("Reflex-Foreign-Id", "user 42/é%");
  builder.header("Empty-Not", "x y: z");
  const std::string data("payload\r\n\0with bytes", 20);
  const MsgPtr raw = builder.build("orders.created", "_INBOX.abc.1", data);
  const MsgPtr portable = builder.build_portable("orders.created", "_INBOX.abc.1", data);
  expect_same(raw.get(), portable.get());
  const auto headers = headers_of(raw.get());
  EXPECT_EQ(headers.at("Reflex-Type"), "-7");
  EXPECT_EQ(headers.at("Nats-Expected-Last-Sequence"), "18446744073709551615");
  EXPECT_EQ(headers.at("Reflex-Foreign-Id"), "user%2042/%C3%A9%25");
  EXPECT_EQ(headers.at("Empty-Not"), "x y: z");
  EXPECT_EQ(data_of(raw.get()), data);
}

TEST(MessageBuilder, ALineBreakInAValueBecomesASpaceAsNatsCWritesIt) {
  MessageBuilder builder;
  builder.header("Key", "one\r\ntwo\nthree");
  builder.header("Next", "kept");
  const MsgPtr msg = builder.build("s", "", "");
  const auto headers = headers_of(msg.get());
  EXPECT_EQ(headers.at("Key"), "one  two three");
  EXPECT_EQ(headers.at("Next"), "kept");
  EXPECT_EQ(natsMsg_GetReply(msg.get()), nullptr);
}

TEST(MessageBuilder, EachMessageCarriesOnlyTheHeadersWrittenSinceClear) {
  MessageBuilder builder;
  builder.header("First", "1");
  (void)builder.build("s", "", "a");
  builder.clear();
  const MsgPtr bare = builder.build("s", "", "b");
  EXPECT_TRUE(headers_of(bare.get()).empty());
  EXPECT_EQ(data_of(bare.get()), "b");
  builder.header("Second", "2");
  const MsgPtr second = builder.build("s", "", "c");
  EXPECT_EQ(headers_of(second.get()), (std::map<std::string, std::string>{{"Second", "2"}}));
  EXPECT_EQ(data_of(second.get()), "c");
  // build() leaves the headers in place: the same message again.
  expect_same(second.get(), builder.build("s", "", "c").get());
}

TEST(MessageBuilder, AnEventsHeadersAreThoseOfEventMessage) {
  reflex::Event event{.id = "1001",
                      .type = 3,
                      .foreign_id = "customer 9",
                      .timestamp = std::chrono::system_clock::time_point(std::chrono::seconds(5)),
                      .metadata = "meta",
                      .trace = "00-abc"};
  MessageBuilder builder;
  rnats::detail::append_event_headers(builder, event);
  const MsgPtr direct = builder.build("events", "", event.metadata);
  const MsgPtr mapped = rnats::detail::message(rnats::event_message("events", event));
  expect_same(direct.get(), mapped.get());
  event.foreign_id.clear();
  event.trace.clear();
  event.timestamp = {};
  builder.clear();
  rnats::detail::append_event_headers(builder, event);
  expect_same(builder.build("events", "", event.metadata).get(),
              rnats::detail::message(rnats::event_message("events", event)).get());
}

TEST(MessageBuilder, HeadersTheSenderWritesItselfTakeThePlaceOfTheEventsOwn) {
  rnats::OutgoingEvent event;
  event.subject = "s";
  event.headers["Nats-Msg-Id"] = "from-the-map";
  event.headers[rnats::header::timestamp] = "from-the-map";
  event.headers["Other"] = "kept";
  event.timestamp = std::chrono::system_clock::time_point(std::chrono::nanoseconds(12));
  MessageBuilder builder;
  rnats::detail::append_headers(builder, event, {"Nats-Msg-Id"});
  builder.header("Nats-Msg-Id", "the-key");
  const auto headers = headers_of(builder.build("s", "", "").get());
  EXPECT_EQ(headers,
            (std::map<std::string, std::string>{
                {"Nats-Msg-Id", "the-key"}, {rnats::header::timestamp, "12"}, {"Other", "kept"}}));
}

}  // namespace
