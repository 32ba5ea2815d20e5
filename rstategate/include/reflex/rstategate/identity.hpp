#pragma once
// (The interface part of branch gate's identity.hpp, for the JWT verifier; gate's file, with
// its Identity class, replaces this one when the branches merge.)

#include <memory>
#include <string>
#include <string_view>

#include "reflex/errors.hpp"
#include "reflex/rstategate/export.hpp"

// Who calls: every RPC of every stategate service carries an `authorization` metadata value
// ("Bearer <token>"), checked by an Identity before anything is done; the claims it yields are
// recorded where stategate records them (PeerMessage.claims, Event.claims).

namespace reflex::rstategate {

/// A call without acceptable credentials: no or a malformed authorization value, a token that
/// does not match, or one a TokenVerifier refused (bad signature, expired, wrong issuer...). The
/// services answer it with UNAUTHENTICATED and its text. Not retryable: get a valid token.
///
/// Thread-safety: immutable. Lifetime: a plain value type.
class REFLEX_RSTATEGATE_EXPORT Unauthenticated final : public Error {
 public:
  explicit Unauthenticated(const std::string& what) : Error(what, false) {}
};

/// Verifies a bearer token (a JWT, say) and says whose it is.
///
/// Thread-safety: claims_of() is called from many gRPC threads at once and must allow it.
/// Lifetime: shared by the Identity that holds it.
class REFLEX_RSTATEGATE_EXPORT TokenVerifier {
 public:
  virtual ~TokenVerifier();
  /// The verified claims of `bearer_token` (the text after "Bearer "), as the text of a JSON
  /// object; throws Unauthenticated for a token that is invalid or expired.
  [[nodiscard]] virtual std::string claims_of(std::string_view bearer_token) const = 0;
};

/// How an Identity accepts callers.
struct IdentityOptions {
  /// Accept every call, with or without credentials; its claims are `{}`
  /// (STATEGATE_AUTH_DISABLED).
  bool disabled = false;
  /// A shared token: "Bearer <token>" is accepted with the claims `{}`. Empty: none.
  std::string token{};
  /// Verifies any other bearer token (JWTs); its claims are recorded. Null: none.
  std::shared_ptr<const TokenVerifier> verifier{};
};

}  // namespace reflex::rstategate
