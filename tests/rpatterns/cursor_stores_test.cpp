#include "reflex/rpatterns/cursor_stores.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

TEST(ReadThroughCursorStore, SeedsThePrimaryFromTheFallbackOnce) {
  auto primary = std::make_shared<DurableStore>();
  // The in-memory store of core, seeded: the way to set a consumer's start programmatically.
  auto fallback = std::make_shared<reflex::MemCursorStore>(
      std::map<std::string, std::string, std::less<>>{{"migrated", "42"}});
  rp::ReadThroughCursorStore store(primary, fallback);
  EXPECT_EQ(store.get("migrated"), "42");
  EXPECT_EQ(primary->durable("migrated"), "42");  // durable in the primary at once
  fallback->set("migrated", "7");                 // the fallback is not read again
  EXPECT_EQ(store.get("migrated"), "42");
  EXPECT_EQ(store.get("unknown"), "");
  EXPECT_EQ(primary->durable("unknown"), "");
}

TEST(ReadThroughCursorStore, ThePrimaryWinsAndTakesEveryWrite) {
  auto primary = std::make_shared<DurableStore>();
  primary->seed("c", "10");
  auto fallback = std::make_shared<reflex::MemCursorStore>(
      std::map<std::string, std::string, std::less<>>{{"c", "3"}});
  rp::ReadThroughCursorStore store(primary, fallback);
  EXPECT_EQ(store.get("c"), "10");
  store.set("c", "11");
  EXPECT_EQ(primary->durable("c"), "10");  // buffered until flush
  store.flush();
  EXPECT_EQ(primary->durable("c"), "11");
  EXPECT_EQ(fallback->get("c"), "3");
}

TEST(ReadThroughCursorStore, RejectsNullStores) {
  auto mem = std::make_shared<reflex::MemCursorStore>();
  EXPECT_THROW(rp::ReadThroughCursorStore(nullptr, mem), reflex::ConfigError);
  EXPECT_THROW(rp::ReadThroughCursorStore(mem, nullptr), reflex::ConfigError);
}

}  // namespace
