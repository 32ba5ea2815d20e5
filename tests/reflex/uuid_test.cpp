#include "reflex/uuid.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

TEST(Uuid, RandomUuidsAreVersionFourInCanonicalForm) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = reflex::random_uuid();
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_TRUE(reflex::is_uuid_v4(id)) << id;
    EXPECT_EQ(id[14], '4') << id;
  }
}

TEST(Uuid, RandomUuidsDoNotRepeatAcrossThreads) {
  std::vector<std::vector<std::string>> made(4);
  std::vector<std::thread> threads;
  for (auto& ids : made) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 5000; ++i) ids.push_back(reflex::random_uuid());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& ids : made) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), 20000u);
}

TEST(Uuid, OnlyCanonicalVersionFourUuidsPassTheCheck) {
  EXPECT_TRUE(reflex::is_uuid_v4("3F2504E0-4F89-41D3-9A0C-0305E82C3301"));
  EXPECT_FALSE(reflex::is_uuid_v4("3f2504e0-4f89-11d3-9a0c-0305e82c3301"));  // version 1
  EXPECT_FALSE(reflex::is_uuid_v4("3f2504e0-4f89-41d3-7a0c-0305e82c3301"));  // variant
  EXPECT_FALSE(reflex::is_uuid_v4("3f2504e04f8941d39a0c0305e82c3301"));      // no dashes
  EXPECT_FALSE(reflex::is_uuid_v4("3f2504e0-4f89-41d3-9a0c-0305e82c330g"));
  EXPECT_FALSE(reflex::is_uuid_v4(""));
}

}  // namespace
