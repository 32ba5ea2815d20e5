// JWT verification on libjwt 1.10 (see jwt.hpp). libjwt checks the signature; the algorithm is
// read from the header and checked here first, because libjwt 1.10 takes a token's own `alg` at
// its word (it accepts `none`, and it would check an HS256 token against an RSA public key used as
// an HMAC secret); libjwt 1.10 has no claim validation, so exp, nbf, iss and aud are checked here.

#include "reflex/rstategate/jwt.hpp"

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace reflex::rstategate {
namespace {

template <class T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept {
    if (p != nullptr) Destroy(p);
  }
};
template <class T, void (*Destroy)(T*)>
using Handle = std::unique_ptr<T, Deleter<T, Destroy>>;

void free_chars(char* p) {
  std::free(p);
}

using JwtPtr = Handle<jwt_t, jwt_free>;
using CharsPtr = Handle<char, free_chars>;
using BioPtr = Handle<BIO, BIO_free_all>;
using PkeyPtr = Handle<EVP_PKEY, EVP_PKEY_free>;

constexpr std::size_t kMinSecretBytes = 32;  // RFC 7518 §3.2: a key of the hash's size or more
constexpr std::size_t kMaxTokenBytes = 64 << 10;

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(std::string(what) + " '" + path + "' cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(std::string(what) + " '" + path + "' cannot be read");
  return std::move(text).str();
}

/// `text` for a one-line message: at most 64 characters, control characters as '?'.
std::string shown(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 64)) {
    out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
  }
  if (text.size() > 64) out += "...";
  return out;
}

/// The bytes of base64url `text` (RFC 4648 §5, padding optional); nullopt when it is not.
std::optional<std::string> base64url_decoded(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned bits = 0;
  int count = 0;
  for (const char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '-') {
      value = 62;
    } else if (c == '_') {
      value = 63;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<unsigned>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

/// The refusal of a token, saying why in one line.
Unauthenticated invalid(const std::string& why) {
  return Unauthenticated("invalid token: " + why);
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional); nullopt when absent.
std::optional<double> numeric_date(const nlohmann::json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (!it->is_number()) throw invalid(std::string(name) + " is not a NumericDate");
  return it->get<double>();
}

std::string seconds_text(double seconds) {
  return std::to_string(static_cast<long long>(seconds)) + " s";
}

}  // namespace

struct JwtVerifier::Impl {
  jwt_alg_t alg = JWT_ALG_NONE;
  std::string alg_name;
  std::string key;
  JwtOptions options;
};

JwtVerifier::JwtVerifier(const JwtOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  const bool hs = !options.hs256_secret_file.empty();
  const bool rs = !options.rs256_public_key_file.empty();
  if (hs == rs) {
    throw ConfigError(
        "JWT verification needs exactly one key: an HS256 secret file or an RS256 public key "
        "file");
  }
  if (options.leeway.count() < 0) throw ConfigError("JWT leeway must not be negative");
  if (hs) {
    impl->alg = JWT_ALG_HS256;
    impl->alg_name = "HS256";
    impl->key = read_file(options.hs256_secret_file, "JWT secret file");
    if (impl->key.ends_with("\r\n")) {
      impl->key.resize(impl->key.size() - 2);
    } else if (impl->key.ends_with('\n')) {
      impl->key.pop_back();
    }
    if (impl->key.size() < kMinSecretBytes) {
      throw ConfigError("JWT secret file '" + options.hs256_secret_file + "' holds " +
                        std::to_string(impl->key.size()) + " bytes; HS256 needs at least " +
                        std::to_string(kMinSecretBytes));
    }
  } else {
    impl->alg = JWT_ALG_RS256;
    impl->alg_name = "RS256";
    impl->key = read_file(options.rs256_public_key_file, "JWT public key file");
    // libjwt parses the key at every verification; parse it once here, so that a wrong file
    // fails at start rather than as "bad signature" on every call.
    BioPtr bio(BIO_new_mem_buf(impl->key.data(), static_cast<int>(impl->key.size())));
    PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!key || EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
      throw ConfigError("JWT public key file '" + options.rs256_public_key_file +
                        "' holds no RSA public key in PEM (-----BEGIN PUBLIC KEY-----)");
    }
  }
  impl_ = std::move(impl);
}

JwtVerifier::~JwtVerifier() = default;

std::string_view JwtVerifier::algorithm() const noexcept {
  return impl_->alg_name;
}

std::string JwtVerifier::claims_of(std::string_view token) const {
  const Impl& impl = *impl_;
  if (token.empty()) throw invalid("empty token");
  if (token.size() > kMaxTokenBytes) throw invalid("token longer than 64 KiB");
  const auto first_dot = token.find('.');
  const auto second_dot =
      first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    throw invalid("malformed: not header.payload.signature");
  }

  // The algorithm first, from the header as sent.
  const auto header_text = base64url_decoded(token.substr(0, first_dot));
  if (!header_text) throw invalid("malformed: the header is not base64url");
  const auto header = nlohmann::json::parse(*header_text, nullptr, false);
  if (!header.is_object()) throw invalid("malformed: the header is not a JSON object");
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) throw invalid("malformed: no alg in header");
  const auto alg_name = alg->get<std::string>();
  if (alg_name == "none" || alg_name.empty()) {
    throw invalid("unsigned (alg none) tokens are refused");
  }
  if (alg_name != impl.alg_name) {
    throw invalid("signed with " + shown(alg_name) + "; only " + impl.alg_name + " is accepted");
  }
  if (second_dot + 1 == token.size()) throw invalid("malformed: no signature");

  // The signature, by libjwt (which parses the payload too).
  const std::string text(token);
  jwt_t* raw = nullptr;
  const int rc =
      jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(impl.key.data()),
                 static_cast<int>(impl.key.size()));
  JwtPtr jwt(raw);
  if (rc != 0 || !jwt) {
    // libjwt says EINVAL for a bad signature and for a payload that is not JSON alike: tell
    // them apart by looking at the payload.
    const auto payload = base64url_decoded(token.substr(first_dot + 1, second_dot - first_dot - 1));
    if (!payload || !nlohmann::json::parse(*payload, nullptr, false).is_object()) {
      throw invalid("malformed: the payload is not a base64url JSON object");
    }
    if (rc == ENOMEM) throw std::bad_alloc();
    throw invalid("the signature does not verify with the configured " + impl.alg_name + " key");
  }
  if (jwt_get_alg(jwt.get()) != impl.alg) {
    throw invalid("signed with another algorithm than " + impl.alg_name);
  }
  const CharsPtr grants(jwt_get_grants_json(jwt.get(), nullptr));
  if (!grants) throw invalid("malformed: no claims");
  const auto claims = nlohmann::json::parse(grants.get(), nullptr, false);
  if (!claims.is_object()) throw invalid("malformed: the claims are not a JSON object");

  // The registered claims (RFC 7519 §4.1).
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto leeway = static_cast<double>(impl.options.leeway.count());
  const auto exp = numeric_date(claims, "exp");
  if (!exp && impl.options.require_exp) throw invalid("no exp claim");
  if (exp && now >= *exp + leeway) {
    throw invalid("expired " + seconds_text(now - *exp) + " ago");
  }
  const auto nbf = numeric_date(claims, "nbf");
  if (nbf && now + leeway < *nbf) {
    throw invalid("not valid for another " + seconds_text(*nbf - now + 1));
  }
  if (!impl.options.issuer.empty()) {
    const auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string()) {
      throw invalid("no iss claim; the issuer must be '" + impl.options.issuer + "'");
    }
    if (iss->get<std::string>() != impl.options.issuer) {
      throw invalid("issuer '" + shown(iss->get<std::string>()) + "' is not '" +
                    impl.options.issuer + "'");
    }
  }
  if (!impl.options.audience.empty()) {
    const auto aud = claims.find("aud");
    bool named = false;
    if (aud != claims.end() && aud->is_string()) {
      named = aud->get<std::string>() == impl.options.audience;
    } else if (aud != claims.end() && aud->is_array()) {
      for (const auto& one : *aud) {
        if (one.is_string() && one.get<std::string>() == impl.options.audience) named = true;
      }
    }
    if (!named) throw invalid("the audience does not include '" + impl.options.audience + "'");
  }
  return claims.dump();
}

}  // namespace reflex::rstategate
