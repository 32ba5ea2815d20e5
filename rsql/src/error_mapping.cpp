#include "error_mapping.hpp"

#include "reflex/rsql/errors.hpp"

namespace reflex::rsql::detail {

namespace {

/// MariaDB says "for key 'PRIMARY'", MySQL 8 "for key 'TABLE.PRIMARY'"; a unique index of the
/// user's own on another column is theirs to explain.
bool id_taken(Dialect dialect, const DatabaseError& e) {
  return dialect == Dialect::mysql && e.kind() == DatabaseErrorKind::unique_violation &&
         std::string_view(e.what()).find("PRIMARY'") != std::string_view::npos;
}

}  // namespace

void rethrow_with_schema_hint(std::string_view table, std::string_view ddl_helper,
                              Dialect dialect) {
  try {
    throw;
  } catch (const DatabaseError& e) {
    if (e.kind() == DatabaseErrorKind::undefined_table) {
      throw SchemaError("table '" + std::string(table) + "' does not exist (" +
                        std::string(to_string(dialect)) +
                        "): create it with the DDL from reflex::rsql::" + std::string(ddl_helper) +
                        "() (or `reflexctl schema " + std::string(to_string(dialect)) +
                        "`); database said: " + e.what());
    }
    if (e.kind() == DatabaseErrorKind::undefined_column) {
      throw SchemaError(
          "table '" + std::string(table) +
          "' lacks a column reflex uses: compare it with reflex::rsql::" + std::string(ddl_helper) +
          "() and the schema names in the options; database said: " + e.what());
    }
    throw;
  }
}

void rethrow_insert_error(std::string_view table, Dialect dialect) {
  try {
    throw;
  } catch (const DatabaseError& e) {
    if (id_taken(dialect, e)) {
      throw DatabaseError(
          DatabaseErrorKind::transient,
          "insert into '" + std::string(table) +
              "' lost its id: a stream reader found the id unclaimed (the insert was between "
              "drawing its AUTO_INCREMENT id and writing its row) and filled it with a no-op row, "
              "so that no reader can pass it. Nothing of the insert was written: roll back and run "
              "the transaction again. Database said: " +
              e.what());
    }
  } catch (...) {
  }
  rethrow_with_schema_hint(table, "events_ddl", dialect);
}

bool insert_may_run_again(Dialect dialect) {
  try {
    throw;
  } catch (const DatabaseError& e) {
    return e.kind() == DatabaseErrorKind::transient || id_taken(dialect, e);
  } catch (...) {
    return false;
  }
}

std::string one_line(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (const char c : message) {
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace reflex::rsql::detail
