#include "hints.hpp"

#include <string>

#include "reflex/rsql/errors.hpp"

namespace reflex::rstate::detail {

void rethrow_with_hint(std::string_view tables, std::string_view ddl_helper,
                       std::string_view reflexctl_flag) {
  try {
    throw;
  } catch (const rsql::DatabaseError& e) {
    if (e.kind() == rsql::DatabaseErrorKind::undefined_table ||
        e.kind() == rsql::DatabaseErrorKind::undefined_column) {
      throw rsql::SchemaError(std::string(tables) + " is missing or lacks a column (" + e.what() +
                              "): create it with reflex::rstate::" + std::string(ddl_helper) +
                              " or `reflexctl schema " + std::string(reflexctl_flag) + "`");
    }
    throw;
  }
}

long long to_ns(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace reflex::rstate::detail
