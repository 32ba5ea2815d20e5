// windshift's NATS message format: what windshift-server's PublishEvent writes and its Events
// call reads, written out here independently of the library, and reflex events in it (the
// relay's WireFormat::windshift).
#include <gtest/gtest.h>

#include <string>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempStream;
using std::chrono::system_clock;

system_clock::time_point at(std::int64_t unix_nanos) {
  return system_clock::time_point(
      std::chrono::duration_cast<system_clock::duration>(std::chrono::nanoseconds(unix_nanos)));
}

rnats::Delivery one(const rnats::Connection& conn, const TempStream& stream) {
  const auto info = rnats::ensure_consumer(conn, {.stream = stream.name(), .pull = true});
  rnats::Subscription sub(conn, stream.name(), info.name);
  auto d = sub.next({}, 5s);
  if (!d) throw std::runtime_error("nothing delivered");
  return std::move(*d);
}

// The protobuf encoding of reflexpb.Event written out field by field (reflex.proto: type = 3,
// timestamp = 4 {seconds = 1, nanos = 2}, foreign_id = 5, id = 6, metadata = 7, trace = 8).
std::string varint(std::uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7f) | 0x80);
  out += static_cast<char>(v);
  return out;
}
std::string number(int field, std::uint64_t v) {
  return varint(static_cast<std::uint64_t>(field) << 3) + varint(v);
}
std::string bytes(int field, const std::string& v) {
  return varint(static_cast<std::uint64_t>(field) << 3 | 2) + varint(v.size()) + v;
}
std::string envelope(int type, std::int64_t seconds, int nanos, const std::string& foreign_id,
                     const std::string& id, const std::string& metadata) {
  return number(3, static_cast<std::uint64_t>(type)) +
         bytes(4, number(1, static_cast<std::uint64_t>(seconds)) +
                      number(2, static_cast<std::uint64_t>(nanos))) +
         bytes(5, foreign_id) + bytes(6, id) + bytes(7, metadata);
}

TEST(WindshiftFormat, PublishedMessagesCarryWindshiftsHeaders) {
  const auto msg = rnats::windshift_message({.subject = "orders.created",
                                             .data_type = "acme.v1.Created",
                                             .data = std::string("\x0a\x01x", 3),
                                             .published = at(1'714'564'800'500'000'000),
                                             .idempotency_key = "k",
                                             .trace_parent = "tp",
                                             .trace_state = "ts"});
  EXPECT_EQ(msg.subject, "orders.created");
  EXPECT_EQ(msg.data, std::string("\x0a\x01x", 3));
  EXPECT_EQ(msg.idempotency_key, "k");
  // Go's time.RFC3339Nano in UTC: the fraction without its trailing zeros.
  EXPECT_EQ(msg.headers.at("WS-Published-Time"), "2024-05-01T12:00:00.5Z");
  EXPECT_EQ(msg.headers.at("WS-Data-Type"), "acme.v1.Created");
  EXPECT_EQ(msg.headers.at("WS-Trace-Parent"), "tp");
  EXPECT_EQ(msg.headers.at("WS-Trace-State"), "ts");
  EXPECT_FALSE(msg.timestamp.has_value());
  EXPECT_EQ(rnats::windshift_message({.published = at(1'714'564'800'000'000'000)})
                .headers.at("WS-Published-Time"),
            "2024-05-01T12:00:00Z");
  EXPECT_EQ(rnats::windshift_message({.published = at(-1)}).headers.at("WS-Published-Time"),
            "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(rnats::windshift_message({.data_type = "t"}).headers.count("WS-Trace-Parent"), 0u);
}

TEST(WindshiftFormat, AWindshiftPublishersMessageIsReadAsWindshiftReadsIt) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  // As windshift-go would publish it: a numeric offset, nanoseconds, tracing headers.
  rnats::publish(
      conn,
      {.subject = stream.subject(),
       .data = "value-bytes",
       .headers = {{"WS-Published-Time", "2024-05-01T14:00:00.000000123+02:00"},
                   {"WS-Data-Type", "acme.v1.Created"},
                   {"WS-Trace-Parent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                   {"WS-Trace-State", "a=b"}},
       .idempotency_key = "idem"});
  const auto d = one(conn, stream);
  const auto ws = d.windshift_event();
  EXPECT_EQ(ws.subject, stream.subject());
  EXPECT_EQ(ws.data_type, "acme.v1.Created");
  EXPECT_EQ(ws.data, "value-bytes");
  EXPECT_EQ(ws.published, at(1'714'564'800'000'000'123));
  EXPECT_EQ(ws.idempotency_key, "idem");
  EXPECT_EQ(ws.trace_parent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(ws.trace_state, "a=b");
  // As a reflex event: type 0, the Any's value as metadata, the published time.
  const auto e = d.event();
  EXPECT_EQ(e.type, 0);
  EXPECT_EQ(e.metadata, "value-bytes");
  EXPECT_EQ(e.timestamp, at(1'714'564'800'000'000'123));
}

TEST(WindshiftFormat, AnUnreadableTimeFallsBackToTheStoredTime) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const auto before = system_clock::now() - 1s;
  rnats::publish(conn, {.subject = stream.subject(),
                        .headers = {{"WS-Published-Time", "yesterday"}, {"WS-Data-Type", "t"}}});
  const auto ws = one(conn, stream).windshift_event();
  EXPECT_GE(ws.published, before);
  EXPECT_LE(ws.published, system_clock::now() + 1s);
}

TEST(WindshiftFormat, ReflexEventsTravelAsAReflexpbEventEnvelope) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  reflex::Event event{.id = "42",
                      .type = 7,
                      .foreign_id = "user-1",
                      .timestamp = at(1'714'564'800'500'000'000),
                      .metadata = "meta",
                      .trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"};
  auto msg = rnats::event_message(stream.subject(), event, rnats::WireFormat::windshift);
  EXPECT_EQ(msg.headers.at("WS-Data-Type"), "reflexpb.Event");
  EXPECT_EQ(msg.headers.at("WS-Published-Time"), "2024-05-01T12:00:00.5Z");
  EXPECT_EQ(msg.headers.at("WS-Trace-Parent"), event.trace);
  EXPECT_EQ(msg.headers.count(rnats::header::type), 0u);
  // The envelope without the trace, compared with an encoding written out by hand.
  auto no_trace = event;
  no_trace.trace.clear();
  EXPECT_EQ(rnats::event_message("s", no_trace, rnats::WireFormat::windshift).data,
            envelope(7, 1'714'564'800, 500'000'000, "user-1", "42", "meta"));
  rnats::publish(conn, msg);
  const auto d = one(conn, stream);
  const auto back = d.event();
  EXPECT_EQ(back.id, "1");  // a JetStream source's ids are sequences
  EXPECT_EQ(back.type, 7);
  EXPECT_EQ(back.foreign_id, "user-1");
  EXPECT_EQ(back.timestamp, event.timestamp);
  EXPECT_EQ(back.metadata, "meta");
  EXPECT_EQ(back.trace, event.trace);
  EXPECT_EQ(d.windshift_event().data, msg.data);
}

TEST(WindshiftFormat, WithADataTypeTheMetadataIsTheValueAndReflexHeadersTheRest) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const reflex::Event event{.id = "9", .type = 3, .foreign_id = "f", .metadata = "proto-bytes"};
  const rnats::WindshiftOptions options{
      .data_type = [](const reflex::Event& e) { return "acme.v1.Type" + std::to_string(e.type); }};
  const auto msg =
      rnats::event_message(stream.subject(), event, rnats::WireFormat::windshift, options);
  EXPECT_EQ(msg.data, "proto-bytes");
  EXPECT_EQ(msg.headers.at("WS-Data-Type"), "acme.v1.Type3");
  EXPECT_EQ(msg.headers.at(rnats::header::type), "3");
  EXPECT_EQ(msg.headers.count("WS-Trace-Parent"), 0u);
  rnats::publish(conn, msg);
  const auto d = one(conn, stream);
  EXPECT_EQ(d.event().type, 3);
  EXPECT_EQ(d.event().foreign_id, "f");
  EXPECT_EQ(d.event().metadata, "proto-bytes");
  EXPECT_EQ(d.windshift_event().data_type, "acme.v1.Type3");
  EXPECT_EQ(d.windshift_event().data, "proto-bytes");
}

TEST(WindshiftFormat, AReflexFormatMessageIsSeenByWindshiftAsAnEnvelopeNamedByItsSourceId) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  const reflex::Event event{
      .id = "row-5", .type = 2, .timestamp = at(1'000'000'000), .metadata = "m"};
  rnats::publish(conn, rnats::event_message(stream.subject(), event));
  const auto ws = one(conn, stream).windshift_event();
  EXPECT_EQ(ws.data_type, "reflexpb.Event");
  EXPECT_EQ(ws.published, event.timestamp);
  EXPECT_EQ(ws.data, rnats::event_message("s", event, rnats::WireFormat::windshift).data);
}

}  // namespace
