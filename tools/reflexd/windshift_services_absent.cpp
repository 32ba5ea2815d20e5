// A build without reflex::rwindshift hosts no windshift services (see windshift_services.hpp).

#include "windshift_services.hpp"

namespace reflexd {

std::unique_ptr<WindshiftServices> make_windshift_services(reflex::rnats::Connection,
                                                           const WindshiftOptions&) {
  return nullptr;
}

}  // namespace reflexd
