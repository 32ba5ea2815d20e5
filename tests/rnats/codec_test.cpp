// How a reflex::Event travels in a JetStream message, checked on what JetStream stores: the
// header values are byte for byte what they have always been, whichever path wrote them
// (rnats::publish of event_message, or the relay).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "nats_test.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempStream;

/// The wire format, written out independently of the library: bytes 0x21-0x7E but '%' stay,
/// every other byte is %XX with upper-case hex.
std::string wire(std::string_view value) {
  std::string out;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7f && c != '%') {
      out += ch;
    } else {
      char escape[4];
      std::snprintf(escape, sizeof escape, "%%%02X", c);
      out += escape;
    }
  }
  return out;
}

std::string every_byte() {
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
  return bytes;
}

/// Every delivery of the stream, in order.
std::vector<rnats::Delivery> deliveries(const rnats::Connection& conn, const TempStream& stream,
                                        std::size_t count) {
  const auto info = rnats::ensure_consumer(conn, {.stream = stream.name()});
  rnats::Subscription sub(conn, stream.name(), info.name);
  std::vector<rnats::Delivery> out;
  while (out.size() < count) {
    auto d = sub.next({}, 5s);
    if (!d) break;
    out.push_back(std::move(*d));
  }
  return out;
}

// A space, '%', a valid-looking escape, non-ASCII (UTF-8 of 'é'), control bytes and DEL.
const std::string kTricky = std::string("a b%c%41\xc3\xa9\x01\x7f~\0z", 15);
const std::string kTrickyOnTheWire = "a%20b%25c%2541%C3%A9%01%7F~%00z";

TEST(Codec, HeaderValuesOnTheWireAreUnchangedByteForByteOnEveryPath) {
  ASSERT_EQ(wire(kTricky), kTrickyOnTheWire);
  auto conn = rnats_test::connect();
  const auto when =
      std::chrono::system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'000'000'001));
  const reflex::Event event{.id = "7",
                            .type = -3,
                            .foreign_id = kTricky,
                            .timestamp = when,
                            .metadata = "m",
                            .trace = every_byte()};
  TempStream published(conn);
  rnats::publish(conn, rnats::event_message(published.subject(), event));

  TempStream relayed(conn);  // a relay needs a stream of its own
  reflex::MemLog log;
  for (int i = 0; i < 6; ++i) log.append(1, "x");
  log.append(event);  // id "7" in the log, too
  rnats::Relay relay(conn, {.name = "codec",
                            .source = log.stream_func(),
                            .stream = relayed.name(),
                            .subject = relayed.subject(),
                            .start_after = "6"});
  rnats_test::RunningRelay relaying(relay);
  EXPECT_TRUE(rnats_test::eventually(
      [&] { return relay.stats().acknowledged >= 1 || relaying.error() != nullptr; }));
  relaying.stop();
  ASSERT_EQ(relaying.error(), nullptr);

  auto got = deliveries(conn, published, 1);
  auto more = deliveries(conn, relayed, 1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(more.size(), 1u);
  got.push_back(std::move(more.front()));
  for (const auto& d : got) {
    SCOPED_TRACE(d.subject());
    const auto& headers = d.headers();
    EXPECT_EQ(headers.at(rnats::header::type), "-3");
    EXPECT_EQ(headers.at(rnats::header::foreign_id), kTrickyOnTheWire);
    EXPECT_EQ(headers.at(rnats::header::trace), wire(every_byte()));
    EXPECT_EQ(headers.at(rnats::header::source_id), "7");
    EXPECT_EQ(headers.at(rnats::header::timestamp), "1700000000000000001");
    const reflex::Event back = d.event();
    EXPECT_EQ(back.foreign_id, kTricky);
    EXPECT_EQ(back.trace, every_byte());
    EXPECT_EQ(back.type, -3);
    EXPECT_EQ(back.metadata, "m");
  }
}

TEST(Codec, AForeignValueWithAMalformedEscapeIsReadAsItIs) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  // A publisher that does not percent-encode: its '%' is a literal, so no part of it is decoded.
  rnats::publish(conn, {.subject = stream.subject(),
                        .headers = {{rnats::header::type, "2"},
                                    {rnats::header::foreign_id, "100%25 of 5%"},
                                    {rnats::header::trace, "%zz%41"}}});
  // One that does is decoded.
  rnats::publish(conn, {.subject = stream.subject(),
                        .headers = {{rnats::header::foreign_id, "100%25 of 5%25"}}});
  const auto got = deliveries(conn, stream, 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].event().foreign_id, "100%25 of 5%");
  EXPECT_EQ(got[0].event().trace, "%zz%41");
  EXPECT_EQ(got[0].event().type, 2);
  EXPECT_EQ(got[1].event().foreign_id, "100% of 5%");
}

}  // namespace
