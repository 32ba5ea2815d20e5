// JetStream's publish acknowledgements, parsed as JSON (the relay reads them from its own inbox).
#include "pub_ack.hpp"

#include <gtest/gtest.h>

#include "reflex/errors.hpp"

namespace {

using reflex::rnats::detail::parse_pub_ack;

TEST(PubAck, ReadsWhereTheMessageWasStored) {
  const auto ack = parse_pub_ack(R"({"stream":"ORDERS","seq":42})");
  EXPECT_FALSE(ack.error);
  EXPECT_EQ(ack.stream, "ORDERS");
  EXPECT_EQ(ack.sequence, 42u);
  EXPECT_FALSE(ack.duplicate);
  const auto dup = parse_pub_ack(R"( {"stream":"S", "seq": 18446744073709551615,
                                      "duplicate": true, "domain": "hub"} )");
  EXPECT_EQ(dup.sequence, 18446744073709551615u);
  EXPECT_TRUE(dup.duplicate);
}

TEST(PubAck, AnAcknowledgementOutsideTheUsualShapeIsReadAllTheSame) {
  // nats-server's own shape is read without a JSON document; anything else by the JSON parser.
  const auto escaped = parse_pub_ack(R"({"stream":"S\"Q","seq":3})");
  EXPECT_EQ(escaped.stream, "S\"Q");
  EXPECT_EQ(escaped.sequence, 3u);
  const auto unknown = parse_pub_ack(R"({"stream":"S","seq":4,"batch":"b","duplicate":true})");
  EXPECT_EQ(unknown.sequence, 4u);
  EXPECT_TRUE(unknown.duplicate);
  const auto twice = parse_pub_ack(R"({"stream":"S","seq":5,"seq":6})");
  EXPECT_EQ(twice.sequence, 6u);  // as the JSON parser reads it: the last one
  const auto spaced =
      parse_pub_ack("{ \"stream\" : \"S\" ,\n \"seq\" : 0 , \"duplicate\" : false }");
  EXPECT_EQ(spaced.sequence, 0u);
  EXPECT_FALSE(spaced.duplicate);
  for (const char* body : {R"({"stream":"S","seq":01})", R"({"stream":"S","seq":1e3})",
                           R"({"stream":"S","seq":18446744073709551616})",
                           R"({"stream":"S","seq":1} x)", R"({"stream":"S","seq":1,})"}) {
    EXPECT_THROW((void)parse_pub_ack(body), reflex::Error) << body;
  }
}

TEST(PubAck, AStreamNamedErrorIsNoError) {
  const auto ack = parse_pub_ack(R"({"stream":"error","seq":1})");
  EXPECT_FALSE(ack.error);
  EXPECT_EQ(ack.sequence, 1u);
  // Nor is an "error" anywhere but as the answer's own member.
  EXPECT_FALSE(parse_pub_ack(R"({"stream":"S","seq":2,"domain":"\"error\""})").error);
}

TEST(PubAck, ReadsJetStreamsRefusal) {
  const auto ack = parse_pub_ack(
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}})");
  ASSERT_TRUE(ack.error);
  EXPECT_EQ(ack.error->code, 400);
  EXPECT_EQ(ack.error->err_code, 10071);
  EXPECT_EQ(ack.error->description, "wrong last sequence: 5");
  const auto bare = parse_pub_ack(R"({"error":{"code":503}})");
  ASSERT_TRUE(bare.error);
  EXPECT_EQ(bare.error->err_code, 0);
  EXPECT_EQ(bare.error->description, "");
}

TEST(PubAck, AMalformedAcknowledgementIsAClearError) {
  for (const char* body :
       {"", "+OK", R"({"stream":"S","seq":)", R"(["seq",1])", R"({"stream":"S"})",
        R"({"stream":"S","seq":-1})", R"({"stream":"S","seq":"1"})", R"({"stream":"S","seq":1.5})",
        R"({"stream":"S","seq":1,"duplicate":"yes"})", R"({"error":"bad"})",
        R"({"error":{"err_code":"10071"}})"}) {
    try {
      (void)parse_pub_ack(body);
      ADD_FAILURE() << "accepted: " << body;
    } catch (const reflex::Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("malformed JetStream publish acknowledgement"), std::string::npos)
          << what;
      EXPECT_NE(what.find(body), std::string::npos) << what;
      EXPECT_FALSE(e.retryable());
    }
  }
}

}  // namespace
