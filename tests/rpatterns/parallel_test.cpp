#include "reflex/rpatterns/parallel.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/rpatterns/run_forever.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

/// Runs `count` shards of a log with 20 entities x 10 events to the head; returns what each shard
/// consumed.
std::map<std::string, std::vector<reflex::Event>> run_shards(std::size_t count,
                                                             rp::ShardOptions shard_options) {
  reflex::MemLog log;
  for (int round = 0; round < 10; ++round) {
    for (int entity = 0; entity < 20; ++entity) {
      log.append(1 + (entity + round) % 5, "entity-" + std::to_string(entity));
    }
  }
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  std::mutex mu;
  std::map<std::string, std::vector<reflex::Event>> by_shard;
  // One function serves every shard; it records the event under each shard whose filter passes
  // it, so an event reaching two shards would show up twice.
  auto shard_list = rp::shards("sharded", count, shard_options);
  auto specs =
      rp::parallel_specs("sharded", count, log.stream_func(), cursors,
                         [&](std::stop_token, const reflex::Event& e) {
                           std::lock_guard lock(mu);
                           for (const auto& shard : shard_list) {
                             if (shard.filter(e)) by_shard[shard.name].push_back(e);
                           }
                         },
                         {.shard = shard_options, .consumer = {}, .stream = {.to_head = true}});
  EXPECT_EQ(specs.size(), count);
  rp::Runner runner(specs);
  runner.join();
  // Each shard's own cursor reached the head.
  for (const auto& shard : shard_list) EXPECT_EQ(cursors->get(shard.name), "200") << shard.name;
  return by_shard;
}

void expect_every_event_exactly_once(const std::map<std::string, std::vector<reflex::Event>>& m) {
  std::multiset<std::int64_t> all;
  for (const auto& [name, events] : m) {
    for (const auto& e : events) all.insert(e.id_int());
  }
  ASSERT_EQ(all.size(), 200u);
  for (std::int64_t id = 1; id <= 200; ++id) EXPECT_EQ(all.count(id), 1u) << "event " << id;
}

TEST(Parallel, ShardsByEventIdCoverEveryEventExactlyOnce) {
  const auto by_shard = run_shards(4, {});
  expect_every_event_exactly_once(by_shard);
  EXPECT_EQ(by_shard.size(), 4u);  // the spread reaches every shard
}

TEST(Parallel, ShardsByForeignIdKeepEachEntityInOneShardAndInOrder) {
  const auto by_shard = run_shards(3, {.hash = rp::by_foreign_id(), .name = {}});
  expect_every_event_exactly_once(by_shard);
  std::map<std::string, std::string> shard_of_entity;
  for (const auto& [name, events] : by_shard) {
    std::map<std::string, std::int64_t> last_id;
    for (const auto& e : events) {
      auto [it, fresh] = shard_of_entity.emplace(e.foreign_id, name);
      EXPECT_EQ(it->second, name) << e.foreign_id << " is in two shards";
      EXPECT_GT(e.id_int(), last_id[e.foreign_id]) << e.foreign_id << " out of order";
      last_id[e.foreign_id] = e.id_int();
    }
  }
  EXPECT_EQ(shard_of_entity.size(), 20u);
}

TEST(Parallel, ShardsByTypePutEachTypeInOneShard) {
  const auto by_shard = run_shards(2, {.hash = rp::by_type(), .name = {}});
  expect_every_event_exactly_once(by_shard);
  std::map<int, std::string> shard_of_type;
  for (const auto& [name, events] : by_shard) {
    for (const auto& e : events) {
      auto [it, fresh] = shard_of_type.emplace(e.type, name);
      EXPECT_EQ(it->second, name) << "type " << e.type << " is in two shards";
    }
  }
}

TEST(Parallel, ACustomHashDecidesTheShard) {
  const auto by_shard = run_shards(
      2, {.hash = [](const reflex::Event& e) -> std::uint64_t { return e.id_int() > 100; },
          .name = {}});
  expect_every_event_exactly_once(by_shard);
  ASSERT_EQ(by_shard.at("sharded_1_of_2").size(), 100u);
  EXPECT_EQ(by_shard.at("sharded_1_of_2").back().id, "100");
  EXPECT_EQ(by_shard.at("sharded_2_of_2").front().id, "101");
}

TEST(Parallel, NamesShardsMOfNOrByTheGivenScheme) {
  const auto defaults = rp::shards("mailer", 3);
  ASSERT_EQ(defaults.size(), 3u);
  EXPECT_EQ(defaults[0].name, "mailer_1_of_3");
  EXPECT_EQ(defaults[2].name, "mailer_3_of_3");
  EXPECT_EQ(defaults[1].index, 1u);
  EXPECT_EQ(defaults[1].count, 3u);
  const auto custom = rp::shards(
      "mailer", 2, {.hash = {}, .name = [](std::string_view base, std::size_t i, std::size_t) {
                      return std::string(base) + "/" + std::to_string(i);
                    }});
  EXPECT_EQ(custom[1].name, "mailer/1");
}

TEST(Parallel, RejectsZeroShardsAndClashingNames) {
  EXPECT_THROW((void)rp::shards("x", 0), reflex::ConfigError);
  try {
    (void)rp::shards("x", 2, {.hash = {}, .name = [](std::string_view, std::size_t, std::size_t) {
                                return std::string("same");
                              }});
    FAIL() << "expected ConfigError";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("distinct"), std::string::npos) << e.what();
  }
}

TEST(Parallel, HashesLikeLunoReflexFnv1) {
  // FNV-1 32-bit test vectors.
  EXPECT_EQ(rp::fnv1_32(""), 0x811c9dc5u);
  EXPECT_EQ(rp::fnv1_32("a"), 0x050c5d7eu);
  EXPECT_EQ(rp::fnv1_32("foobar"), 0x31f0b262u);
  reflex::Event e{.id = "a", .type = 7, .foreign_id = "foobar"};
  EXPECT_EQ(rp::by_event_id()(e), 0x050c5d7eu);
  EXPECT_EQ(rp::by_foreign_id()(e), 0x31f0b262u);
  EXPECT_EQ(rp::by_type()(e), rp::fnv1_32("7"));
}

TEST(Parallel, CombinesAConsumerFilterWithTheShardFilter) {
  reflex::MemLog log;
  for (int i = 0; i < 40; ++i) log.append(i % 2, "f");
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  std::atomic<int> seen{0};
  std::atomic<int> wrong_type{0};
  auto specs = rp::parallel_specs(
      "filtered", 2, log.stream_func(), cursors,
      [&](std::stop_token, const reflex::Event& e) {
        ++seen;
        if (e.type != 1) ++wrong_type;
      },
      {.shard = {},
       .consumer = {.include_types = {},
                    .filter = [](const reflex::Event& e) { return e.type == 1; }},
       .stream = {.to_head = true}});
  rp::Runner(specs).join();
  EXPECT_EQ(seen.load(), 20);
  EXPECT_EQ(wrong_type.load(), 0);
}

}  // namespace
