// Our windshift protos carry windshift-server's wire contract: the table written from our
// generated descriptors equals windshift_contract.txt, written by windshift_contract.py from
// windshift's own .proto files (packages, services, methods and their streaming, messages,
// fields with numbers, types, labels and oneofs, enums and their values).
#include <gtest/gtest.h>

#include "reflex_test/proto_contract.hpp"
#include "windshift/events/v1alpha1/service.pb.h"
#include "windshift/state/v1alpha1/service.pb.h"

namespace {

TEST(WindshiftContract, OurProtosMatchWindshiftsTableEntryForEntry) {
  std::set<std::string> ours = reflex_test::contract_table(
      *windshift::events::v1alpha1::EnsureStreamRequest::descriptor()->file());
  ours.merge(
      reflex_test::contract_table(*windshift::state::v1alpha1::GetRequest::descriptor()->file()));
  const auto theirs = reflex_test::read_contract_table(REFLEX_SOURCE_DIR
                                                       "/tests/rwindshift/windshift_contract.txt");
  ASSERT_GT(theirs.size(), 100u);
  reflex_test::expect_same_contract(ours, theirs, "windshift");
}

}  // namespace
