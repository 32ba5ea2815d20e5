// Never skip a committed event, on any dialect: many writers commit out of id order (random
// transaction lengths, rollbacks, multi-event and long transactions) while several readers follow
// the head. Every reader must get every committed event exactly once, in the table's id order,
// and never a rolled-back or invented one.

#include "gap_safety.hpp"

#include <gtest/gtest.h>

namespace reflex_test::rsql {
namespace {

using namespace std::chrono_literals;

class GapSafety : public ::testing::Test, protected FreshEvents {
 protected:
  GapSafety() : FreshEvents("gap") {}
};

TEST_F(GapSafety, EveryReaderGetsEveryCommittedEventOnceInIdOrder) {
  (void)check_gap_safety(*backend, db, name, 4s);
}

}  // namespace
}  // namespace reflex_test::rsql
