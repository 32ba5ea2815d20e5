// Streams that copy from other streams (mirror, aggregate), discard-new per subject and the
// configuration read back from the server.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "nats_test.hpp"
#include "reflex/errors.hpp"

namespace {

using namespace std::chrono_literals;
namespace rnats = reflex::rnats;
using rnats_test::TempStream;

/// The data of every event of `stream`, in order, once the stream holds `count`.
std::vector<std::string> contents(const rnats::Connection& conn, const std::string& stream,
                                  std::size_t count) {
  EXPECT_TRUE(rnats_test::eventually([&] {
    const auto info = rnats::stream_info(conn, stream);
    return info && info->messages >= count;
  })) << stream
      << " did not get " << count << " events";
  const auto info = rnats::ensure_consumer(conn, {.stream = stream});
  rnats::Subscription sub(conn, stream, info.name);
  std::vector<std::string> out;
  while (out.size() < count) {
    auto d = sub.next({}, 2s);
    if (!d) break;
    out.push_back(d->data());
    d->ack();
  }
  return out;
}

/// A stream made as configured and deleted at the end of the test.
class Deleted {
 public:
  Deleted(rnats::Connection conn, const rnats::StreamConfig& config)
      : conn_(std::move(conn)), name_(config.name) {
    rnats::ensure_stream(conn_, config);
  }
  ~Deleted() {
    try {
      rnats::delete_stream(conn_, name_);
    } catch (...) {
    }
  }
  Deleted(const Deleted&) = delete;
  Deleted& operator=(const Deleted&) = delete;
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  rnats::Connection conn_;
  std::string name_;
};

TEST(StreamSources, AMirrorCopiesEveryEventFromWhereItStarts) {
  auto conn = rnats_test::connect();
  TempStream origin(conn);
  for (int i = 0; i < 3; ++i)
    rnats::publish(conn, {.subject = origin.subject(), .data = std::to_string(i)});
  // TempStream gives a stream subjects; a mirror has none.
  const Deleted mirror(conn,
                       {.name = reflex_test::unique_name("MIRROR"),
                        .mirror = rnats::StreamSource{.name = origin.name(),
                                                      .from = rnats::ConsumeFrom::at_sequence(2)},
                        .storage = rnats::Storage::memory});
  EXPECT_EQ(contents(conn, mirror.name(), 2), (std::vector<std::string>{"1", "2"}));
  const auto info = rnats::stream_info(conn, mirror.name());
  ASSERT_TRUE(info->config.mirror);
  EXPECT_EQ(info->config.mirror->name, origin.name());
  EXPECT_EQ(info->config.mirror->from.sequence, 2u);
  EXPECT_TRUE(info->config.subjects.empty());
  // Declared again as it was: no change (its start is kept, whatever `from` says now).
  EXPECT_NO_THROW(rnats::ensure_stream(conn, {.name = mirror.name(),
                                              .mirror = rnats::StreamSource{.name = origin.name()},
                                              .storage = rnats::Storage::memory}));
  // Nothing can be published to a mirror, and it cannot become something else.
  EXPECT_THROW(rnats::ensure_stream(conn, {.name = mirror.name(),
                                           .subjects = {mirror.name() + ".x"},
                                           .storage = rnats::Storage::memory}),
               reflex::ConfigError);
  EXPECT_THROW(rnats::ensure_stream(conn, {.name = mirror.name(),
                                           .subjects = {mirror.name() + ".x"},
                                           .mirror = rnats::StreamSource{.name = origin.name()}}),
               reflex::ConfigError);
}

TEST(StreamSources, AnAggregateCollectsFilteredSourcesAndItsOwnSubjects) {
  auto conn = rnats_test::connect();
  TempStream one(conn);
  TempStream two(conn);
  rnats::publish(conn, {.subject = one.subject("keep"), .data = "one-keep"});
  rnats::publish(conn, {.subject = one.subject("drop"), .data = "one-drop"});
  rnats::publish(conn, {.subject = two.subject(), .data = "two"});
  const std::string name = reflex_test::unique_name("AGG");
  TempStream aggregate(conn,
                       {.name = name,
                        .subjects = {name + ".own"},
                        .sources = {rnats::StreamSource{.name = one.name(),
                                                        .filter_subjects = {one.subject("keep")}},
                                    rnats::StreamSource{.name = two.name()}},
                        .storage = rnats::Storage::memory});
  rnats::publish(conn, {.subject = name + ".own", .data = "own"});
  auto got = contents(conn, aggregate.name(), 3);
  EXPECT_EQ(std::multiset<std::string>(got.begin(), got.end()),
            (std::multiset<std::string>{"one-keep", "two", "own"}));
  const auto info = rnats::stream_info(conn, aggregate.name());
  ASSERT_EQ(info->config.sources.size(), 2u);
  EXPECT_EQ(info->config.sources[0].filter_subjects,
            (std::vector<std::string>{one.subject("keep")}));
  // Declaratively dropping a source stops the copying; several filters need one covering them.
  EXPECT_NO_THROW(rnats::ensure_stream(conn, {.name = name,
                                              .subjects = {name + ".own"},
                                              .sources = {rnats::StreamSource{.name = two.name()}},
                                              .storage = rnats::Storage::memory}));
  EXPECT_EQ(rnats::stream_info(conn, name)->config.sources.size(), 1u);
  EXPECT_NO_THROW(rnats::ensure_stream(
      conn, {.name = name,
             .sources = {rnats::StreamSource{
                 .name = one.name(), .filter_subjects = {one.subject("keep"), one.name() + ".>"}}},
             .storage = rnats::Storage::memory}));
  EXPECT_EQ(rnats::stream_info(conn, name)->config.sources.at(0).filter_subjects,
            (std::vector<std::string>{one.name() + ".>"}));
  try {
    rnats::ensure_stream(
        conn, {.name = name,
               .sources = {rnats::StreamSource{
                   .name = one.name(), .filter_subjects = {one.subject("a"), one.subject("b")}}},
               .storage = rnats::Storage::memory});
    FAIL() << "two filter subjects on nats-server 2.9";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("one subject"), std::string::npos) << e.what();
  }
  EXPECT_THROW(rnats::ensure_stream(conn, {.name = name,
                                           .sources = {rnats::StreamSource{.name = name}},
                                           .storage = rnats::Storage::memory}),
               reflex::ConfigError);
}

TEST(StreamLimits, DiscardNewPerSubjectRefusesOnlyTheFullSubject) {
  auto conn = rnats_test::connect();
  TempStream stream(conn, {.max_events_per_subject = 1,
                           .discard = rnats::Discard::new_messages,
                           .discard_new_per_subject = true,
                           .storage = rnats::Storage::memory});
  rnats::publish(conn, {.subject = stream.subject("a")});
  EXPECT_THROW(rnats::publish(conn, {.subject = stream.subject("a")}), reflex::Error);
  EXPECT_NO_THROW(rnats::publish(conn, {.subject = stream.subject("b")}));
  const auto info = rnats::stream_info(conn, stream.name());
  EXPECT_TRUE(info->config.discard_new_per_subject);
  EXPECT_EQ(info->config.discard, rnats::Discard::new_messages);
  EXPECT_EQ(info->messages, 2u);
  // It needs discard-new and a per-subject limit.
  EXPECT_THROW(rnats::ensure_stream(conn, {.name = stream.name(),
                                           .subjects = {stream.name() + ".>"},
                                           .discard_new_per_subject = true,
                                           .storage = rnats::Storage::memory}),
               reflex::ConfigError);
}

TEST(StreamLimits, TheConfigurationReadBackIsWhatWasDeclared) {
  auto conn = rnats_test::connect();
  const std::string name = reflex_test::unique_name("CONF");
  TempStream stream(conn, {.name = name,
                           .description = "d",
                           .subjects = {name + ".a", name + ".b"},
                           .max_age = 1h,
                           .max_events = 10,
                           .max_events_per_subject = 5,
                           .max_bytes = 1 << 20,
                           .max_event_size = 1024,
                           .storage = rnats::Storage::memory,
                           .duplicate_window = 30s});
  const auto c = rnats::stream_info(conn, name)->config;
  EXPECT_EQ(c.name, name);
  EXPECT_EQ(c.description, "d");
  EXPECT_EQ(c.subjects, (std::vector<std::string>{name + ".a", name + ".b"}));
  EXPECT_EQ(c.max_age, 1h);
  EXPECT_EQ(c.max_events, 10);
  EXPECT_EQ(c.max_events_per_subject, 5);
  EXPECT_EQ(c.max_bytes, 1 << 20);
  EXPECT_EQ(c.max_event_size, 1024);
  EXPECT_EQ(c.storage, rnats::Storage::memory);
  EXPECT_EQ(c.replicas, 1);
  EXPECT_EQ(c.duplicate_window, 30s);
  EXPECT_EQ(c.discard, rnats::Discard::old_messages);
}

}  // namespace
