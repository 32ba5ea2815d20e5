// A client generated from windshift-server's own .proto files (Python, at test time) publishes,
// subscribes, acks and uses state against our services: the wire contract as a user meets it.
#include <gtest/gtest.h>

#include "reflex_test/process.hpp"
#include "windshift_test.hpp"

namespace rwindshift_test {
namespace {

TEST(WindshiftClient, AClientGeneratedFromWindshiftsProtosWorksAgainstUs) {
  auto nats = reflex_test::connect("rwindshift-python");
  Server server(nats);
  Streams streams(nats);
  const auto name = streams.name("py");
  reflex_test::Process client(
      {"/usr/bin/python3", REFLEX_SOURCE_DIR "/tests/rwindshift/windshift_client.py",
       REFLEX_WINDSHIFT_PROTO_DIR, REFLEX_WINDSHIFT_GEN_DIR, server.address(), name},
      {.capture = true});
  const int status = client.wait(60s);
  EXPECT_EQ(status, 0) << client.out() << client.err();
  EXPECT_NE(client.out().find("OK"), std::string::npos) << client.out() << client.err();
  try {
    reflex::rnats::StateStore::remove(nats, name);
  } catch (...) {
  }
}

}  // namespace
}  // namespace rwindshift_test
