#include "reflex/rpatterns/ack.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

TEST(AckSpec, MovesAndFlushesTheCursorOnlyOnAck) {
  reflex::MemLog log;
  for (int i = 0; i < 10; ++i) log.append(1, "f");
  auto store = std::make_shared<DurableStore>();
  std::vector<std::string> durable_before_ack;
  auto spec =
      rp::ack_spec(log.stream_func(), store, "acker", [&](std::stop_token, const rp::AckEvent& e) {
        if (e.event().id_int() % 4 != 0) return;  // ack 4 and 8 only
        durable_before_ack.push_back(store->durable("acker"));
        e.ack();
      });
  spec.options.to_head = true;
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  // Each ack was durable at once (flushed), and run's own updates never moved the cursor.
  EXPECT_EQ(durable_before_ack, (std::vector<std::string>{"", "4"}));
  EXPECT_EQ(store->durable("acker"), "8");
  EXPECT_EQ(store->sets(), 2);
}

TEST(AckSpec, RedeliversEverythingAfterTheLastAck) {
  reflex::MemLog log;
  for (int i = 0; i < 6; ++i) log.append(1, "f");
  auto store = std::make_shared<DurableStore>();
  std::vector<std::string> seen;
  auto spec = rp::ack_spec(log.stream_func(), store, "acker",
                           [&](std::stop_token, const rp::AckEvent& e) {
                             seen.push_back(e.event().id);
                             if (e.event().id == "3") e.ack();
                           },
                           {.consumer = {}, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  seen.clear();
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(seen, range_ids(4, 6));
}

TEST(AckSpec, EventsMayBeAckedLaterFromAnotherThread) {
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "f");
  auto store = std::make_shared<DurableStore>();
  std::vector<rp::AckEvent> held;
  auto spec = rp::ack_spec(log.stream_func(), store, "acker",
                           [&](std::stop_token, const rp::AckEvent& e) { held.push_back(e); },
                           {.consumer = {}, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(store->durable("acker"), "");
  std::thread([&] { held.back().ack(); }).join();
  EXPECT_EQ(store->durable("acker"), "3");
}

TEST(AckSpec, HonoursConsumerOptions) {
  reflex::MemLog log;
  log.append(1, "a");
  log.append(2, "b");
  auto store = std::make_shared<DurableStore>();
  std::vector<std::string> seen;
  auto spec = rp::ack_spec(
      log.stream_func(), store, "acker",
      [&](std::stop_token, const rp::AckEvent& e) { seen.push_back(e.event().foreign_id); },
      {.consumer = {.include_types = {2}}, .stream = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(seen, (std::vector<std::string>{"b"}));
}

TEST(AckSpec, RejectsMissingParts) {
  reflex::MemLog log;
  auto store = std::make_shared<DurableStore>();
  EXPECT_THROW((void)rp::ack_spec(log.stream_func(), store, "a", {}), reflex::ConfigError);
  EXPECT_THROW((void)rp::ack_spec(log.stream_func(), nullptr, "a",
                                  [](std::stop_token, const rp::AckEvent&) {}),
               reflex::ConfigError);
  EXPECT_THROW(
      (void)rp::ack_spec(log.stream_func(), store, "", [](std::stop_token, const rp::AckEvent&) {}),
      reflex::ConfigError);
}

}  // namespace
