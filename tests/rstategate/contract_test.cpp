// Our stategate/schema.proto carries stategate's wire contract: the table written from our
// generated descriptors equals stategate_contract.txt, written by stategate_contract.py from
// stategate's own schema.proto with its google.api.http and validator options stripped (they
// change nothing on the wire).
#include <gtest/gtest.h>

#include "reflex_test/proto_contract.hpp"
#include "stategate/schema.pb.h"

namespace {

TEST(StategateContract, OurProtoMatchesStategatesTableEntryForEntry) {
  const auto ours = reflex_test::contract_table(*stategate::Entity::descriptor()->file());
  const auto theirs = reflex_test::read_contract_table(REFLEX_SOURCE_DIR
                                                       "/tests/rstategate/stategate_contract.txt");
  ASSERT_GT(theirs.size(), 80u);
  reflex_test::expect_same_contract(ours, theirs, "stategate");
  // The five services, each method's shape included.
  EXPECT_TRUE(
      ours.contains("method stategate.PeerService.Stream stategate.StreamMessageOpts "
                    "stategate.PeerMessage client_streaming=0 server_streaming=1"));
}

}  // namespace
