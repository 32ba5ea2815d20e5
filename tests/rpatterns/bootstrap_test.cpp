#include "reflex/rpatterns/bootstrap.hpp"

#include <gtest/gtest.h>

#include "helpers.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_log.hpp"

namespace {

using namespace rpatterns_test;
namespace rp = reflex::rpatterns;

struct Recorder {
  std::mutex mu;
  std::vector<reflex::Event> seen;
  std::shared_ptr<reflex::Consumer> consumer(const std::string& name) {
    return reflex::make_consumer(name, [this](const reflex::Event& e) {
      std::lock_guard lock(mu);
      seen.push_back(e);
    });
  }
  std::vector<std::string> got() {
    std::lock_guard lock(mu);
    return ids(seen);
  }
};

TEST(Bootstrap, ANewConsumerStartsFromTheHead) {
  reflex::MemLog log;
  for (int i = 0; i < 5; ++i) log.append(1, "old");
  auto store = std::make_shared<DurableStore>();
  Recorder recorder;
  auto source = std::make_shared<SourceLog>();
  auto spec = rp::bootstrap(reflex::Spec{.stream = recorded(log.stream_func(), source),
                                         .cursors = store,
                                         .consumer = recorder.consumer("fresh")});
  std::stop_source stop;
  std::jthread runner([&] { reflex::run(stop.get_token(), spec); });
  ASSERT_TRUE(eventually([&] { return source->opened == 1; }));  // open at the head
  log.append(1, "new");
  ASSERT_TRUE(eventually([&] { return recorder.got().size() == 1; }));
  stop.request_stop();
  runner.join();
  EXPECT_EQ(recorder.got(), (std::vector<std::string>{"6"}));
  EXPECT_EQ(store->durable("fresh"), "6");
}

TEST(Bootstrap, AConsumerWithACursorResumesAfterIt) {
  reflex::MemLog log;
  for (int i = 0; i < 5; ++i) log.append(1, "old");
  auto store = std::make_shared<DurableStore>();
  store->seed("known", "2");
  Recorder recorder;
  auto spec = rp::bootstrap(reflex::Spec{.stream = log.stream_func(),
                                         .cursors = store,
                                         .consumer = recorder.consumer("known"),
                                         .options = {.to_head = true}});
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(recorder.got(), range_ids(3, 5));
}

TEST(Bootstrap, OneWrappedStreamServesNewAndKnownConsumers) {
  reflex::MemLog log;
  for (int i = 0; i < 3; ++i) log.append(1, "old");
  auto store = std::make_shared<DurableStore>();
  store->seed("known", "1");
  auto stream = rp::bootstrap(log.stream_func());
  Recorder fresh;
  Recorder known;
  EXPECT_THROW(reflex::run({}, {.stream = stream,
                                .cursors = store,
                                .consumer = fresh.consumer("fresh"),
                                .options = {.to_head = true}}),
               reflex::HeadReached);
  EXPECT_THROW(reflex::run({}, {.stream = stream,
                                .cursors = store,
                                .consumer = known.consumer("known"),
                                .options = {.to_head = true}}),
               reflex::HeadReached);
  EXPECT_TRUE(fresh.got().empty());
  EXPECT_EQ(known.got(), range_ids(2, 3));
}

}  // namespace
