// AsyncPublisher: every publish ends exactly once, with its own acknowledgement or the error
// publish() would have thrown; at most max_pending are in flight; a publish nobody answers ends
// Unavailable at its timeout, and the destructor ends what is still in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "reflex/errors.hpp"
#include "reflex/rnats/publisher.hpp"
#include "reflex/rnats/rnats.hpp"
#include "reflex_test/nats.hpp"
#include "reflex_test/services.hpp"
#include "reflex_test/wait.hpp"

namespace {

using namespace std::chrono_literals;
using reflex::rnats::AsyncPublisher;
using reflex::rnats::OutgoingEvent;
using reflex::rnats::PublishOutcome;

/// The outcomes of publishes, by the number each was given.
class Outcomes {
 public:
  AsyncPublisher::Callback slot(int n) {
    return [this, n](PublishOutcome outcome) {
      std::lock_guard lock(mu_);
      ++calls_[n];
      outcomes_[n] = std::move(outcome);
      cv_.notify_all();
    };
  }
  /// Waits until `n` publishes have ended (false after `timeout`).
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return outcomes_.size() >= n; });
  }
  std::map<int, PublishOutcome> outcomes() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }
  std::map<int, int> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, PublishOutcome> outcomes_;
  std::map<int, int> calls_;
};

template <class E>
bool is(const std::exception_ptr& error) {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

TEST(AsyncPublisher, EveryPublishEndsOnceWithItsOwnSequenceAndAtMostMaxPendingAreInFlight) {
  auto conn = reflex_test::connect();
  reflex_test::TempStream stream(conn);
  AsyncPublisher publisher(conn, {.max_pending = 8});
  Outcomes outcomes;
  constexpr int kEvents = 500;
  std::size_t most_in_flight = 0;
  for (int i = 1; i <= kEvents; ++i) {
    publisher.publish(OutgoingEvent{.subject = stream.subject(),
                                    .data = "event " + std::to_string(i),
                                    .idempotency_key = "key-" + std::to_string(i)},
                      outcomes.slot(i));
    most_in_flight = std::max(most_in_flight, publisher.pending());
  }
  ASSERT_TRUE(outcomes.wait_for(kEvents));
  EXPECT_LE(most_in_flight, 8u);
  std::set<std::uint64_t> sequences;
  for (const auto& [n, outcome] : outcomes.outcomes()) {
    ASSERT_FALSE(outcome.error) << "publish " << n;
    EXPECT_EQ(outcome.result.stream, stream.name());
    EXPECT_FALSE(outcome.result.duplicate);
    sequences.insert(outcome.result.sequence);
  }
  EXPECT_EQ(sequences.size(), static_cast<std::size_t>(kEvents));
  EXPECT_EQ(*sequences.begin(), 1u);
  EXPECT_EQ(*sequences.rbegin(), static_cast<std::uint64_t>(kEvents));
  for (const auto& [n, calls] : outcomes.calls()) EXPECT_EQ(calls, 1) << "publish " << n;
  EXPECT_EQ(publisher.pending(), 0u);
  const auto info = reflex::rnats::stream_info(conn, stream.name());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->messages, static_cast<std::uint64_t>(kEvents));
}

TEST(AsyncPublisher, EndsWithTheErrorsPublishWouldThrowAndDuplicatesAnswerTheOriginal) {
  auto conn = reflex_test::connect();
  reflex_test::TempStream stream(conn);
  AsyncPublisher publisher(conn);
  Outcomes outcomes;
  publisher.publish({.subject = stream.subject("a"), .data = "1", .idempotency_key = "once"},
                    outcomes.slot(1));
  ASSERT_TRUE(outcomes.wait_for(1));
  publisher.publish({.subject = stream.subject("a"), .data = "1 again", .idempotency_key = "once"},
                    outcomes.slot(2));
  publisher.publish({.subject = stream.name() + "_unbound.x", .data = "lost"}, outcomes.slot(3));
  publisher.publish(
      {.subject = stream.subject("a"), .data = "stale", .expected_last_subject_sequence = 7},
      outcomes.slot(4));
  ASSERT_TRUE(outcomes.wait_for(4));
  auto all = outcomes.outcomes();
  ASSERT_FALSE(all[1].error);
  ASSERT_FALSE(all[2].error);
  EXPECT_TRUE(all[2].result.duplicate);
  EXPECT_EQ(all[2].result.sequence, all[1].result.sequence);
  EXPECT_TRUE(is<reflex::rnats::NoStreamForSubject>(all[3].error));
  EXPECT_TRUE(is<reflex::rnats::RevisionConflict>(all[4].error));
  const auto info = reflex::rnats::stream_info(conn, stream.name());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->messages, 1u);  // neither the duplicate nor the stale write was stored
}

TEST(AsyncPublisher, APublishNobodyAnswersEndsUnavailableAtItsTimeoutAndTheDestructorEndsTheRest) {
  reflex_test::OwnServices nats("nats");
  reflex::rnats::Connection conn(
      reflex::rnats::ConnectOptions{.url = nats.env("REFLEX_TEST_NATS_URL"), .name = "async"});
  // On a server of the test's own, which goes with the test: nothing to delete.
  const std::string subject = "ASYNC.x";
  (void)reflex::rnats::ensure_stream(conn, {.name = "ASYNC", .subjects = {"ASYNC.>"}});
  nats.stop();
  Outcomes outcomes;
  {
    AsyncPublisher publisher(conn);
    const auto before = std::chrono::steady_clock::now();
    publisher.publish({.subject = subject, .data = "short", .timeout = 300ms}, outcomes.slot(1));
    ASSERT_TRUE(outcomes.wait_for(1, 5s));
    EXPECT_TRUE(is<reflex::Unavailable>(outcomes.outcomes()[1].error));
    EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
    // Long timeouts, still in flight when the publisher goes away: each ends, once.
    for (int i = 2; i <= 4; ++i) {
      try {
        publisher.publish({.subject = subject, .data = "long", .timeout = 60s}, outcomes.slot(i));
      } catch (const reflex::Unavailable&) {
        outcomes.slot(i)(PublishOutcome{.error = std::current_exception()});  // refused at once
      }
    }
  }
  ASSERT_TRUE(outcomes.wait_for(4, 1s)) << "the destructor left publishes unended";
  for (const auto& [n, outcome] : outcomes.outcomes()) {
    EXPECT_TRUE(is<reflex::Unavailable>(outcome.error)) << "publish " << n;
  }
  for (const auto& [n, calls] : outcomes.calls()) EXPECT_EQ(calls, 1) << "publish " << n;
}

}  // namespace
