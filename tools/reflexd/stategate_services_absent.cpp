// A build without reflex::rstategate hosts no stategate services (see stategate_services.hpp).

#include "stategate_services.hpp"

namespace reflexd {

std::unique_ptr<StategateServices> make_stategate_services(const StategateOptions&) {
  return nullptr;
}

}  // namespace reflexd
