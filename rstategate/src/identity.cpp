#include "reflex/rstategate/identity.hpp"

namespace reflex::rstategate {

TokenVerifier::~TokenVerifier() = default;

}  // namespace reflex::rstategate
