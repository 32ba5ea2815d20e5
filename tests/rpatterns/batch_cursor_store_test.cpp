// A batch that succeeded but whose cursor cannot be stored ends the run with the cursor store's
// error as it is, not as a failure of the consumer (which did its work).

#include <gtest/gtest.h>

#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"
#include "reflex/rpatterns/batch.hpp"

namespace {

using namespace std::chrono_literals;

/// A cursor store whose writes fail as a store that lost its server does.
class DownStore final : public reflex::CursorStore {
 public:
  std::string get(std::string_view) override { return {}; }
  void set(std::string_view, std::string_view) override {
    throw reflex::Unavailable("cursor store: the bucket's server is away");
  }
  void flush() override {}
};

TEST(BatchCursorStore, AFailedCursorWriteIsTheStoresErrorNotTheConsumers) {
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "f");
  int batches = 0;
  auto spec = reflex::rpatterns::batch_spec(
      log.stream_func(), std::make_shared<DownStore>(), "batcher",
      [&](std::stop_token, std::span<const reflex::Event>) { ++batches; },
      {.max_size = 3, .window = 0ms, .filter = {}, .stream = {.to_head = true}});
  try {
    reflex::run({}, spec);
    FAIL() << "the run ended without the store's error";
  } catch (const std::exception& e) {
    EXPECT_EQ(reflex::find_error<reflex::ConsumeError>(e), nullptr)
        << "reported as the consumer's failure: " << e.what();
    EXPECT_NE(reflex::find_error<reflex::Unavailable>(e), nullptr) << e.what();
    EXPECT_TRUE(reflex::is_retryable(e)) << e.what();
  }
  EXPECT_EQ(batches, 1);
}

}  // namespace
