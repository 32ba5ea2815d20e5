#include "reflex/mem_cursor_store.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace {

TEST(MemCursorStore, GetSeesWhatSetWrote) {
  reflex::MemCursorStore store;
  EXPECT_EQ(store.get("a"), "");
  store.set("a", "10");
  store.set("b", "3");
  store.set("a", "11");
  EXPECT_EQ(store.get("a"), "11");
  EXPECT_EQ(store.get("b"), "3");
  store.flush();
  EXPECT_EQ(store.snapshot().size(), 2u);
}

TEST(MemCursorStore, StartsFromItsSeed) {
  reflex::MemCursorStore store(std::map<std::string, std::string, std::less<>>{{"a", "5"}});
  EXPECT_EQ(store.get("a"), "5");
}

TEST(MemCursorStore, ConcurrentWritersOfDistinctNamesKeepTheirLastValue) {
  reflex::MemCursorStore store;
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 1; i <= 1000; ++i) store.set("c" + std::to_string(t), std::to_string(i));
    });
  }
  threads.clear();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(store.get("c" + std::to_string(t)), "1000");
}

}  // namespace
