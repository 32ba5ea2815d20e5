// reflex::rstate on a real database of each dialect (one executable per backend): every change
// commits the entity's row and its event together, history restores any version, searches are
// answered by SQL, and bad input writes nothing.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "reflex/rstate/errors.hpp"
#include "reflex/rstate/schema.hpp"
#include "reflex/uuid.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rstate {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using reflex::rstate::Change;
using reflex::rstate::Entities;
using reflex::rstate::EntityQuery;
using reflex::rstate::EntityRef;
using reflex::rstate::EventQuery;
using reflex::rstate::Method;

class EntitiesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_.entities_table = unique_name("ent");
    schema_.events_table = unique_name("ent_ev");
    backend_->database()->execute(reflex::rstate::entities_ddl(backend_->dialect(), schema_));
    entities_.emplace(backend_->database(), reflex::rstate::EntitiesOptions{.schema = schema_});
  }
  void TearDown() override {
    try {
      backend_->database()->execute("DROP TABLE IF EXISTS " + quoted(schema_.events_table) +
                                    ";\nDROP TABLE IF EXISTS " + quoted(schema_.entities_table));
    } catch (...) {
    }
  }

  [[nodiscard]] std::string quoted(const std::string& name) const {
    return backend_->dialect() == reflex::rsql::Dialect::postgres ? "\"" + name + "\""
                                                                  : "`" + name + "`";
  }
  /// The first column of `sql`'s rows as integers.
  [[nodiscard]] std::int64_t count(const std::string& table) const {
    std::int64_t n = -1;
    backend_->database()->transact([&](reflex::rsql::Sql& sql) {
      sql.query("SELECT COUNT(*) FROM " + quoted(table), {},
                [&](const reflex::rsql::SqlRow& row) { n = row.int64(0); });
    });
    return n;
  }
  [[nodiscard]] std::int64_t events() const { return count(schema_.events_table); }
  [[nodiscard]] std::int64_t rows() const { return count(schema_.entities_table); }
  [[nodiscard]] const Entities& entities() const { return *entities_; }

  std::unique_ptr<Backend> backend_ = make_backend();
  reflex::rstate::EntitiesSchema schema_;
  std::optional<Entities> entities_;
};

const EntityRef kOrder{"shop", "order", "o-1"};

TEST_F(EntitiesTest, SetCreatesTheEntityAndExactlyOneEventThatCarriesTheChange) {
  const auto event = entities().set(
      kOrder, R"({"status": "open", "total": 12})",
      Change{.claims = R"({"sub": "alice"})", .method_name = "/stategate.EntityService/Set"});
  const auto got = entities().get(kOrder);
  ASSERT_TRUE(got);
  EXPECT_EQ(json::parse(got->values), json::parse(R"({"status": "open", "total": 12})"));
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->updated_ns, event.time_ns);
  EXPECT_EQ(events(), 1);
  EXPECT_TRUE(reflex::is_uuid_v4(event.id));
  EXPECT_FALSE(event.event_id.empty());

  // The events table is an outbox: a reflex stream reads the change as stategate's Event JSON.
  auto stream = entities().events().stream({}, "");
  const auto read = stream->recv();
  EXPECT_EQ(read.id, event.event_id);
  EXPECT_EQ(read.foreign_id, "shop/order/o-1");
  EXPECT_EQ(read.type, static_cast<int>(Method::set));
  const auto metadata = json::parse(read.metadata);
  EXPECT_EQ(metadata["id"], event.id);
  EXPECT_EQ(metadata["method"], "/stategate.EntityService/Set");
  EXPECT_EQ(metadata["claims"], json::parse(R"({"sub": "alice"})"));
  EXPECT_EQ(metadata["time"], std::to_string(event.time_ns));
  EXPECT_EQ(metadata["entity"]["domain"], "shop");
  EXPECT_EQ(metadata["entity"]["type"], "order");
  EXPECT_EQ(metadata["entity"]["key"], "o-1");
  EXPECT_EQ(metadata["entity"]["values"]["total"], 12);
}

TEST_F(EntitiesTest, SetAgainReplacesTheValuesAndCountsTheVersion) {
  (void)entities().set(kOrder, R"({"status": "open", "note": "x"})");
  (void)entities().set(kOrder, R"({"status": "paid"})");
  const auto got = entities().get(kOrder);
  ASSERT_TRUE(got);
  EXPECT_EQ(json::parse(got->values), json::parse(R"({"status": "paid"})"));
  EXPECT_EQ(got->version, 2);
  EXPECT_EQ(events(), 2);
}

TEST_F(EntitiesTest, EditMergesTheGivenKeysAndReturnsTheEntityAfter) {
  (void)entities().set(kOrder, R"({"status": "open", "total": 12, "items": [1, 2]})");
  const auto after = entities().edit(kOrder, R"({"status": "paid", "paid_by": "card"})");
  EXPECT_EQ(json::parse(after.values),
            json::parse(R"({"status": "paid", "total": 12, "items": [1, 2], "paid_by": "card"})"));
  EXPECT_EQ(after.version, 2);
  EXPECT_EQ(json::parse(entities().get(kOrder)->values), json::parse(after.values));
  const auto history = entities().search_events({.domain = "shop", .type = "order"});
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].method, Method::edit);
  EXPECT_EQ(json::parse(history[1].entity.values), json::parse(after.values));
}

TEST_F(EntitiesTest, EditOrDelOfAMissingEntityIsNotFoundAndWritesNothing) {
  EXPECT_THROW((void)entities().edit(kOrder, R"({"a": 1})"), reflex::rstate::NotFound);
  EXPECT_THROW((void)entities().del(kOrder), reflex::rstate::NotFound);
  EXPECT_EQ(events(), 0);
  EXPECT_EQ(rows(), 0);
}

TEST_F(EntitiesTest, DelRemovesTheStateWhileItsEventKeepsTheLastValuesForARevert) {
  const auto set = entities().set(kOrder, R"({"status": "open"})");
  (void)entities().edit(kOrder, R"({"status": "paid"})");
  const auto del = entities().del(kOrder);
  EXPECT_FALSE(entities().get(kOrder));
  EXPECT_EQ(del.method, Method::del);
  EXPECT_EQ(json::parse(del.entity.values), json::parse(R"({"status": "paid"})"));
  const auto recorded = entities().get_event(kOrder, del.id);
  ASSERT_TRUE(recorded);
  EXPECT_EQ(json::parse(recorded->entity.values), json::parse(R"({"status": "paid"})"));
  EXPECT_EQ(recorded->method, Method::del);

  // Reverting to the deletion restores what it deleted; to the first event, the first values.
  EXPECT_EQ(json::parse(entities().revert(kOrder, del.id).values),
            json::parse(R"({"status": "paid"})"));
  const auto first = entities().revert(kOrder, set.id);
  EXPECT_EQ(json::parse(first.values), json::parse(R"({"status": "open"})"));
  EXPECT_EQ(json::parse(entities().get(kOrder)->values), json::parse(R"({"status": "open"})"));
  EXPECT_EQ(events(), 5);
}

TEST_F(EntitiesTest, RevertGoesBackToTheFirstOfFiftyVersions) {
  std::string first;
  for (int i = 1; i <= 50; ++i) {
    const auto event = entities().set(kOrder, json{{"n", i}}.dump());
    if (i == 1) first = event.id;
  }
  EXPECT_EQ(entities().get(kOrder)->version, 50);
  const auto reverted = entities().revert(kOrder, first, {.method_name = "revert-test"});
  EXPECT_EQ(json::parse(reverted.values), (json{{"n", 1}}));
  EXPECT_EQ(reverted.version, 51);
  const auto history = entities().search_events(
      {.domain = "shop", .type = "order", .key = "o-1", .sort = {.reverse = true}, .limit = 1});
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].method, Method::revert);
  EXPECT_EQ(history[0].method_name, "revert-test");
  EXPECT_EQ(events(), 51);
}

TEST_F(EntitiesTest, RevertToAnEventOfAnotherEntityIsRefusedAndWritesNothing) {
  const auto other = entities().set({"shop", "order", "o-2"}, R"({"a": 1})");
  (void)entities().set(kOrder, R"({"a": 2})");
  try {
    (void)entities().revert(kOrder, other.id);
    FAIL() << "revert to another entity's event succeeded";
  } catch (const reflex::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("shop/order/o-2"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)entities().revert(kOrder, reflex::random_uuid()), reflex::rstate::NotFound);
  EXPECT_EQ(json::parse(entities().get(kOrder)->values), (json{{"a", 2}}));
  EXPECT_EQ(events(), 2);
}

TEST_F(EntitiesTest, AnExpectedVersionThatDoesNotMatchIsAConflictAndWritesNothing) {
  (void)entities().set(kOrder, R"({"a": 1})", {.expected_version = 0});  // create only
  EXPECT_THROW((void)entities().set(kOrder, R"({"a": 2})", {.expected_version = 0}),
               reflex::rstate::VersionConflict);
  try {
    (void)entities().edit(kOrder, R"({"a": 3})", {.expected_version = 7});
    FAIL() << "edit with a stale version succeeded";
  } catch (const reflex::rstate::VersionConflict& e) {
    EXPECT_EQ(e.expected(), 7);
    EXPECT_EQ(e.actual(), 1);
  }
  EXPECT_THROW((void)entities().del(kOrder, {.expected_version = 2}),
               reflex::rstate::VersionConflict);
  EXPECT_EQ(entities().edit(kOrder, R"({"a": 4})", {.expected_version = 1}).version, 2);
  (void)entities().del(kOrder, {.expected_version = 2});
  EXPECT_EQ(events(), 3);
}

TEST_F(EntitiesTest, BadInputIsRefusedWithAClearErrorBeforeAnythingIsWritten) {
  const auto refused = [&](auto&& call, std::string_view says) {
    try {
      call();
      ADD_FAILURE() << "accepted; expected an error saying '" << says << "'";
    } catch (const reflex::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  refused([&] { (void)entities().set({"", "order", "k"}, "{}"); }, "domain is empty");
  refused([&] { (void)entities().set({"shop", "or der", "k"}, "{}"); }, "white space");
  refused([&] { (void)entities().set({"shop", "order", "k\t"}, "{}"); }, "white space");
  refused(
      [&] {
        (void)entities().set({"shop", "order", "k\n1"}, "{}");
      },
      R"("k\n1" has white space)");
  refused([&] { (void)entities().set(kOrder, "[1, 2]"); }, "must be a JSON object");
  refused([&] { (void)entities().set(kOrder, "{\"a\": "); }, "not valid JSON");
  refused([&] { (void)entities().set(kOrder, "{}", {.claims = "nope"}); }, "claims");
  refused(
      [&] {
        (void)entities().set(kOrder, json{{"a", std::string(2 << 20, 'x')}}.dump());
      },
      "max_values_bytes");
  refused([&] { (void)entities().set({"d", "t", std::string(300, 'k')}, "{}"); }, "too long");
  refused([&] { (void)entities().revert(kOrder, "not-a-uuid"); }, "not a version 4 UUID");
  refused([&] { (void)entities().search({.domain = "shop", .type = "order", .limit = 0}); },
          "limit");
  refused([&] { (void)entities().search({.domain = "shop", .type = "order", .filter = "[]"}); },
          "must be a JSON object");
  refused(
      [&] {
        (void)entities().search({.domain = "shop", .type = "order", .sort = {.field = "a..b"}});
      },
      "empty key");
  EXPECT_EQ(events(), 0);
  EXPECT_EQ(rows(), 0);
}

TEST_F(EntitiesTest, MissingTablesAreASchemaErrorNamingTheDdlHelper) {
  const Entities missing(backend_->database(),
                         {.schema = {.entities_table = unique_name("absent"),
                                     .events_table = unique_name("absent_ev")}});
  for (auto call : {std::function<void()>([&] { missing.check(); }),
                    std::function<void()>([&] { (void)missing.set(kOrder, "{}"); }),
                    std::function<void()>([&] { (void)missing.get(kOrder); })}) {
    try {
      call();
      ADD_FAILURE() << "no error on missing tables";
    } catch (const reflex::rsql::SchemaError& e) {
      EXPECT_NE(std::string(e.what()).find("entities_ddl"), std::string::npos) << e.what();
    }
  }
}

TEST_F(EntitiesTest, AFailureBetweenTheStateWriteAndTheEventLeavesNeither) {
  (void)entities().set({"shop", "order", "fine"}, R"({"a": 1})");
  backend_->database()->execute(backend_->failing_trigger(schema_.events_table, "boom"));
  EXPECT_THROW((void)entities().set({"shop", "order", "boom"}, R"({"a": 1})"), reflex::Error);
  EXPECT_FALSE(entities().get({"shop", "order", "boom"}));
  EXPECT_EQ(rows(), 1);
  EXPECT_EQ(events(), 1);
  // The same on the caller's transaction: its own change rolls back with the failed entity.
  auto tx = backend_->begin();
  EXPECT_THROW((void)tx->apply(entities(), Method::set, {"shop", "order", "boom"}, "{}", {}),
               reflex::Error);
  tx->rollback();
  EXPECT_EQ(rows(), 1);
  EXPECT_EQ(events(), 1);
}

TEST_F(EntitiesTest, OnTheCallersTransactionTheEntityCommitsAndRollsBackWithItsOwnChange) {
  const std::string own = unique_name("own");
  backend_->database()->execute("CREATE TABLE " + quoted(own) + " (n INTEGER)");
  {
    auto tx = backend_->begin();
    tx->exec("INSERT INTO " + quoted(own) + " (n) VALUES (1)");
    auto written = tx->apply(entities(), Method::set, kOrder, R"({"status": "open"})", {});
    tx->commit();
    written.notify();
    EXPECT_EQ(written.event.entity.version, 1);
  }
  {
    auto tx = backend_->begin();
    tx->exec("INSERT INTO " + quoted(own) + " (n) VALUES (2)");
    (void)tx->apply(entities(), Method::edit, kOrder, R"({"status": "paid"})", {});
    tx->rollback();
  }
  EXPECT_EQ(json::parse(entities().get(kOrder)->values), (json{{"status", "open"}}));
  EXPECT_EQ(count(own), 1);
  EXPECT_EQ(events(), 1);
  {
    auto tx = backend_->begin();
    auto written = tx->apply(entities(), Method::del, kOrder, {}, {});
    tx->commit();
    EXPECT_EQ(written.event.method, Method::del);
  }
  EXPECT_FALSE(entities().get(kOrder));
  EXPECT_EQ(events(), 2);
  backend_->database()->execute("DROP TABLE " + quoted(own));
}

TEST_F(EntitiesTest, ConcurrentEditsOfOneEntityFromEightClientsLoseNoUpdate) {
  (void)entities().set(kOrder, "{}");
  constexpr int kClients = 8;
  constexpr int kEdits = 20;
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 1; i <= kEdits; ++i) {
        try {
          (void)entities().edit(kOrder, json{{"client" + std::to_string(c), i}}.dump());
        } catch (const std::exception& e) {
          ++failures;
          ADD_FAILURE() << "client " << c << ": " << e.what();
          return;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  ASSERT_EQ(failures.load(), 0);
  const auto got = json::parse(entities().get(kOrder)->values);
  for (int c = 0; c < kClients; ++c) {
    EXPECT_EQ(got["client" + std::to_string(c)], kEdits) << got.dump();
  }
  EXPECT_EQ(entities().get(kOrder)->version, 1 + kClients * kEdits);
  EXPECT_EQ(events(), 1 + kClients * kEdits);
}

TEST_F(EntitiesTest, SearchFiltersOnValuesSortsByAFieldAndPages) {
  for (int i = 0; i < 12; ++i) {
    const json values = {{"status", i % 3 == 0 ? "open" : "paid"},
                         {"total", 100 - i * 7},
                         {"address", {{"city", i % 2 == 0 ? "Oslo" : "Rome"}}},
                         {"name", "c" + std::to_string(i)}};
    (void)entities().set({"shop", "customer", "k" + std::to_string(10 + i)}, values.dump());
  }
  (void)entities().set({"shop", "other", "k99"}, R"({"status": "open"})");  // another type

  const auto keys = [](const std::vector<reflex::rstate::Entity>& found) {
    std::vector<std::string> out;
    for (const auto& e : found) out.push_back(e.ref.key);
    return out;
  };
  EntityQuery open{.domain = "shop", .type = "customer", .filter = R"({"status": "open"})"};
  EXPECT_EQ(keys(entities().search(open)), (std::vector<std::string>{"k10", "k13", "k16", "k19"}));
  open.filter = R"({"status": "open", "address.city": "Oslo"})";
  EXPECT_EQ(keys(entities().search(open)), (std::vector<std::string>{"k10", "k16"}));
  open.filter = R"({"total": 79})";
  EXPECT_EQ(keys(entities().search(open)), (std::vector<std::string>{"k13"}));
  open.filter = R"({"status": "gone"})";
  EXPECT_TRUE(entities().search(open).empty());

  // Sorted by a number (not as text: 9 < 23 < 100), then reversed, then paged.
  EntityQuery all{.domain = "shop", .type = "customer", .sort = {.field = "total"}};
  auto sorted = keys(entities().search(all));
  ASSERT_EQ(sorted.size(), 12u);
  EXPECT_EQ(sorted.front(), "k21");
  EXPECT_EQ(sorted.back(), "k10");
  all.sort.reverse = true;
  EXPECT_EQ(keys(entities().search(all)).front(), "k10");
  all.limit = 3;
  all.offset = 3;
  EXPECT_EQ(keys(entities().search(all)), (std::vector<std::string>{"k13", "k14", "k15"}));
  EntityQuery by_name{
      .domain = "shop", .type = "customer", .sort = {.field = "address.city"}, .limit = 6};
  for (const auto& e : entities().search(by_name)) {
    EXPECT_EQ(json::parse(e.values)["address"]["city"], "Oslo") << e.ref.key;
  }
}

TEST_F(EntitiesTest, EventSearchFindsAnEntitysHistoryByTimeRangeAndValues) {
  std::vector<std::int64_t> times;
  for (int i = 0; i < 6; ++i) {
    times.push_back(entities().set(kOrder, json{{"step", i}, {"even", i % 2 == 0}}.dump()).time_ns);
    std::this_thread::sleep_for(2ms);  // distinct nanosecond times, with room between them
  }
  (void)entities().set({"shop", "order", "o-2"}, R"({"step": 0})");
  EventQuery range{
      .domain = "shop", .type = "order", .key = "o-1", .min_ns = times[1], .max_ns = times[4]};
  auto found = entities().search_events(range);
  ASSERT_EQ(found.size(), 2u);  // strictly after the second, strictly before the fifth
  EXPECT_EQ(json::parse(found[0].entity.values)["step"], 2);
  EXPECT_EQ(json::parse(found[1].entity.values)["step"], 3);

  EventQuery even{.domain = "shop", .type = "order", .filter = R"({"entity.values.even": true})"};
  EXPECT_EQ(entities().search_events(even).size(), 3u);
  even.filter = R"({"step": 0})";
  auto both = entities().search_events(even);  // every key of the type
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].entity.ref.key, "o-1");
  EXPECT_EQ(both[1].entity.ref.key, "o-2");

  EventQuery newest{.domain = "shop",
                    .type = "order",
                    .key = "o-1",
                    .sort = {.field = "time", .reverse = true},
                    .limit = 2};
  found = entities().search_events(newest);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].time_ns, times[5]);
  EXPECT_EQ(found[1].time_ns, times[4]);
  EventQuery by_step{.domain = "shop",
                     .type = "order",
                     .key = "o-1",
                     .sort = {.field = "entity.values.step", .reverse = true},
                     .limit = 1};
  EXPECT_EQ(json::parse(entities().search_events(by_step).at(0).entity.values)["step"], 5);
}

TEST_F(EntitiesTest, GetEventFindsOnlyTheNamedEntitysEvent) {
  const auto event = entities().set(kOrder, R"({"a": 1})", {.claims = R"({"sub": "bob"})"});
  const auto got = entities().get_event(kOrder, event.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->id, event.id);
  EXPECT_EQ(got->event_id, event.event_id);
  EXPECT_EQ(json::parse(got->claims), (json{{"sub", "bob"}}));
  EXPECT_EQ(got->time_ns, event.time_ns);
  EXPECT_FALSE(entities().get_event({"shop", "order", "o-2"}, event.id));
  EXPECT_FALSE(entities().get_event(kOrder, reflex::random_uuid()));
}

}  // namespace
}  // namespace reflex_test::rstate
