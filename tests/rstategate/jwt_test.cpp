// JwtVerifier against tokens made by PyJWT (make_jwt.py, run by /usr/bin/python3 with Debian's
// python3-jwt): what verifies is accepted with its claims, everything else is refused with a
// one-line reason, and a key file that cannot serve fails at construction.

#include "reflex/rstategate/jwt.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "reflex_test/env.hpp"
#include "reflex_test/process.hpp"

namespace {

using nlohmann::json;
using reflex::rstategate::JwtOptions;
using reflex::rstategate::JwtVerifier;

const std::string kScript = std::string(REFLEX_SOURCE_DIR) + "/tests/rstategate/make_jwt.py";

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

long long now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class JwtTest : public ::testing::Test {
 protected:
  // One RSA key pair and one secret for the whole suite (RSA key generation takes a while).
  static void SetUpTestSuite() {
    dir_ = new reflex_test::TempDir();
    const auto keys = reflex_test::run_process({"/usr/bin/python3", kScript, "keys", path("")}, {},
                                               std::chrono::seconds(30));
    ASSERT_EQ(keys.status, 0) << keys.err;
    write(secret(), std::string(40, 's') + "\n");
    write(path("other_secret"), std::string(40, 'o') + "\n");
    write(path("short_secret"), "too short\n");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string path(const std::string& name) { return (dir_->path() / name).string(); }
  static std::string secret() { return path("secret"); }

  /// Tokens for `specs` (see make_jwt.py), in their order.
  static std::vector<std::string> tokens(const json& specs) {
    const auto made = reflex_test::run_process({"/usr/bin/python3", kScript, "tokens"},
                                               {.input = specs.dump()}, std::chrono::seconds(30));
    EXPECT_EQ(made.status, 0) << made.err;
    std::vector<std::string> out;
    std::string line;
    for (const char c : made.out) {
      if (c == '\n') {
        out.push_back(line);
        line.clear();
      } else {
        line += c;
      }
    }
    EXPECT_EQ(out.size(), specs.size()) << made.out << made.err;
    out.resize(specs.size());
    return out;
  }
  static std::string token(const json& spec) { return tokens(json::array({spec})).front(); }
  static json hs256(json claims) {
    return {{"alg", "HS256"}, {"key", secret()}, {"claims", std::move(claims)}};
  }
  static json rs256(json claims) {
    return {{"alg", "RS256"}, {"key", path("private.pem")}, {"claims", std::move(claims)}};
  }
  static JwtVerifier hs_verifier(JwtOptions options = {}) {
    options.hs256_secret_file = secret();
    return JwtVerifier(options);
  }
  static JwtVerifier rs_verifier(JwtOptions options = {}) {
    options.rs256_public_key_file = path("public.pem");
    return JwtVerifier(options);
  }

  /// The reason `verifier` refuses `token`, after checking it is one line; "" when accepted.
  static std::string refusal(const JwtVerifier& verifier, const std::string& token) {
    try {
      (void)verifier.claims_of(token);
    } catch (const reflex::rstategate::Unauthenticated& e) {
      const std::string what = e.what();
      EXPECT_TRUE(what.starts_with("invalid token: ")) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      EXPECT_FALSE(e.retryable());
      if (token.size() > 20) {
        EXPECT_EQ(what.find(token), std::string::npos) << "names the token";
      }
      return what;
    }
    return "";
  }

  static inline reflex_test::TempDir* dir_ = nullptr;
};

TEST_F(JwtTest, Hs256TokenIsAcceptedWithItsClaims) {
  const json claims = {
      {"sub", "alice"}, {"roles", {"admin", "ops"}}, {"exp", now_s() + 600}, {"nbf", now_s() - 10}};
  const auto verifier = hs_verifier();
  EXPECT_EQ(verifier.algorithm(), "HS256");
  EXPECT_EQ(json::parse(verifier.claims_of(token(hs256(claims)))), claims);
}

TEST_F(JwtTest, Rs256TokenIsAcceptedWithItsClaims) {
  const json claims = {{"sub", "bob"}, {"org", {{"id", 7}}}, {"exp", now_s() + 600}};
  const auto verifier = rs_verifier();
  EXPECT_EQ(verifier.algorithm(), "RS256");
  EXPECT_EQ(json::parse(verifier.claims_of(token(rs256(claims)))), claims);
}

TEST_F(JwtTest, TokenWithoutExpIsAcceptedUnlessExpIsRequired) {
  const auto t = token(hs256({{"sub", "alice"}}));
  EXPECT_EQ(refusal(hs_verifier(), t), "");
  EXPECT_NE(refusal(hs_verifier({.require_exp = true}), t).find("no exp claim"), std::string::npos);
}

TEST_F(JwtTest, ExpiredTokenIsRefusedUnlessWithinTheLeeway) {
  const auto made = tokens(
      {hs256({{"sub", "a"}, {"exp", now_s() - 120}}), hs256({{"sub", "a"}, {"exp", now_s() - 5}})});
  EXPECT_NE(refusal(hs_verifier(), made[0]).find("expired"), std::string::npos);
  EXPECT_NE(refusal(hs_verifier(), made[1]).find("expired"), std::string::npos);
  EXPECT_NE(refusal(hs_verifier({.leeway = std::chrono::seconds(30)}), made[0]).find("expired"),
            std::string::npos);
  EXPECT_EQ(refusal(hs_verifier({.leeway = std::chrono::seconds(30)}), made[1]), "");
}

TEST_F(JwtTest, NotYetValidTokenIsRefusedUnlessWithinTheLeeway) {
  const auto t = token(rs256({{"sub", "a"}, {"nbf", now_s() + 20}}));
  EXPECT_NE(refusal(rs_verifier(), t).find("not valid for another"), std::string::npos);
  EXPECT_EQ(refusal(rs_verifier({.leeway = std::chrono::seconds(60)}), t), "");
}

TEST_F(JwtTest, ExpThatIsNoNumberIsRefused) {
  EXPECT_NE(refusal(hs_verifier(), token(hs256({{"exp", "tomorrow"}}))).find("NumericDate"),
            std::string::npos);
}

TEST_F(JwtTest, TokenSignedWithAnotherKeyIsRefused) {
  const auto made =
      tokens({{{"alg", "HS256"}, {"key", path("other_secret")}, {"claims", json::object()}},
              rs256({{"sub", "a"}})});
  EXPECT_NE(refusal(hs_verifier(), made[0]).find("signature does not verify"), std::string::npos);
  const JwtVerifier other({.rs256_public_key_file = path("other.pem")});
  EXPECT_NE(refusal(other, made[1]).find("signature does not verify"), std::string::npos);
}

TEST_F(JwtTest, TamperedPayloadIsRefused) {
  const auto t = token(hs256({{"sub", "alice"}}));
  const auto dot = t.find('.');
  const auto second = t.find('.', dot + 1);
  // {"sub":"mallory"} in base64url, with alice's signature.
  const std::string forged = t.substr(0, dot + 1) + "eyJzdWIiOiJtYWxsb3J5In0" + t.substr(second);
  EXPECT_NE(refusal(hs_verifier(), forged).find("signature does not verify"), std::string::npos);
}

TEST_F(JwtTest, TokenOfAnotherAlgorithmIsRefused) {
  const auto made =
      tokens({{{"alg", "HS512"}, {"key", secret()}, {"claims", {{"sub", "a"}}}},
              rs256({{"sub", "a"}}),
              hs256({{"sub", "a"}}),
              {{"alg", "RS512"}, {"key", path("private.pem")}, {"claims", json::object()}}});
  EXPECT_NE(refusal(hs_verifier(), made[0]).find("signed with HS512; only HS256"),
            std::string::npos);
  EXPECT_NE(refusal(hs_verifier(), made[1]).find("signed with RS256; only HS256"),
            std::string::npos);
  EXPECT_NE(refusal(rs_verifier(), made[2]).find("signed with HS256; only RS256"),
            std::string::npos);
  EXPECT_NE(refusal(rs_verifier(), made[3]).find("signed with RS512; only RS256"),
            std::string::npos);
}

TEST_F(JwtTest, Hs256TokenSignedWithThePublicKeyIsRefusedByAnRs256Verifier) {
  // The algorithm-confusion forgery: the public key (which anyone may hold) used as an HMAC secret.
  const auto forged =
      token({{"alg", "HS256-with-file"}, {"key", path("public.pem")}, {"claims", {{"sub", "x"}}}});
  EXPECT_NE(refusal(rs_verifier(), forged).find("signed with HS256"), std::string::npos);
}

TEST_F(JwtTest, UnsignedTokenIsRefused) {
  const auto none = token({{"alg", "none"}, {"claims", {{"sub", "a"}}}});
  EXPECT_NE(refusal(hs_verifier(), none).find("alg none"), std::string::npos);
  EXPECT_NE(refusal(rs_verifier(), none).find("alg none"), std::string::npos);
  // The same with a made-up signature appended.
  EXPECT_NE(refusal(hs_verifier(), none + "c2lnbmF0dXJl").find("alg none"), std::string::npos);
}

TEST_F(JwtTest, MalformedTokensAreRefused) {
  const auto verifier = hs_verifier();
  const auto not_json = token({{"alg", "HS256"}, {"key", secret()}, {"payload", "not json"}});
  const auto array = token({{"alg", "HS256"}, {"key", secret()}, {"payload", "[1,2]"}});
  for (const std::string& bad :
       {std::string(""), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
        std::string("!!!.e30.c2ln"), std::string("bm90IGpzb24.e30.c2ln"),  // "not json" header
        std::string("W10.e30.c2ln"),                                       // [] header
        std::string("eyJ0eXAiOiJKV1QifQ.e30.c2ln"),                        // no alg
        not_json, array, std::string(70000, 'a')}) {
    const auto why = refusal(verifier, bad);
    EXPECT_TRUE(why.find("malformed") != std::string::npos ||
                why.find("empty token") != std::string::npos ||
                why.find("longer than") != std::string::npos)
        << "'" << bad.substr(0, 40) << "': " << why;
  }
  // A signed token whose signature part is missing.
  const auto t = token(hs256({{"sub", "a"}}));
  EXPECT_NE(refusal(verifier, t.substr(0, t.rfind('.') + 1)).find("no signature"),
            std::string::npos);
}

TEST_F(JwtTest, IssuerMustMatchWhenConfigured) {
  const auto made = tokens({hs256({{"iss", "https://id.example"}}),
                            hs256({{"iss", "https://evil.example"}}), hs256({{"sub", "a"}})});
  const auto verifier = hs_verifier({.issuer = "https://id.example"});
  EXPECT_EQ(refusal(verifier, made[0]), "");
  EXPECT_NE(refusal(verifier, made[1]).find("issuer 'https://evil.example' is not"),
            std::string::npos);
  EXPECT_NE(refusal(verifier, made[2]).find("no iss claim"), std::string::npos);
  EXPECT_EQ(refusal(hs_verifier(), made[1]), "");  // not configured: any issuer
}

TEST_F(JwtTest, AudienceMustBeNamedWhenConfigured) {
  const auto made =
      tokens({rs256({{"aud", "reflexd"}}), rs256({{"aud", {"billing", "reflexd"}}}),
              rs256({{"aud", "billing"}}), rs256({{"aud", {"billing"}}}), rs256({{"sub", "a"}})});
  const auto verifier = rs_verifier({.audience = "reflexd"});
  EXPECT_EQ(refusal(verifier, made[0]), "");
  EXPECT_EQ(refusal(verifier, made[1]), "");
  for (int i : {2, 3, 4}) {
    EXPECT_NE(refusal(verifier, made[i]).find("audience does not include 'reflexd'"),
              std::string::npos)
        << i;
  }
}

TEST_F(JwtTest, KeyThatCannotServeFailsAtConstruction) {
  const auto config_error = [](const JwtOptions& options) -> std::string {
    try {
      JwtVerifier verifier(options);
    } catch (const reflex::ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(config_error({}).find("exactly one key"), std::string::npos);
  EXPECT_NE(
      config_error({.hs256_secret_file = secret(), .rs256_public_key_file = path("public.pem")})
          .find("exactly one key"),
      std::string::npos);
  EXPECT_NE(config_error({.hs256_secret_file = path("missing")}).find("cannot be read"),
            std::string::npos);
  EXPECT_NE(config_error({.hs256_secret_file = path("short_secret")}).find("at least 32"),
            std::string::npos);
  // A private key, and a secret, where a public key belongs.
  EXPECT_NE(config_error({.rs256_public_key_file = path("private.pem")}).find("no RSA public key"),
            std::string::npos);
  EXPECT_NE(config_error({.rs256_public_key_file = secret()}).find("no RSA public key"),
            std::string::npos);
}

TEST_F(JwtTest, ClaimsAreCheckedFromManyThreadsAtOnce) {
  const auto made = tokens({rs256({{"sub", "a"}}), rs256({{"sub", "a"}, {"exp", now_s() - 100}})});
  const auto verifier = rs_verifier();
  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (json::parse(verifier.claims_of(made[0])).at("sub") == "a") ++accepted;
        try {
          (void)verifier.claims_of(made[1]);
        } catch (const reflex::rstategate::Unauthenticated&) {
          ++refused;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted, 200);
  EXPECT_EQ(refused, 200);
}

}  // namespace
