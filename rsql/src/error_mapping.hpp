#pragma once
// Database errors turned into what a caller can act on: a missing table or column becomes a
// SchemaError naming the table and the DDL helper, an id a hole probe took becomes a retryable
// error saying so. Each dialect maps its driver's exceptions to DatabaseError first
// (postgres/session.cpp, mysql/session.cpp, sqlite/session.cpp).

#include <string>
#include <string_view>

#include "reflex/rsql/schema.hpp"

namespace reflex::rsql::detail {

/// Rethrows a DatabaseError of kind undefined_table/undefined_column as a SchemaError that names
/// the table and the DDL helper; other errors unchanged. Call inside a catch block.
[[noreturn]] void rethrow_with_schema_hint(std::string_view table, std::string_view ddl_helper,
                                           Dialect dialect);

/// rethrow_with_schema_hint for an insert into an events table. On MariaDB/MySQL a duplicate
/// primary key there means a reader's hole probe took the id this insert drew before its row was
/// written (see mysql/gap_policy.cpp): nothing of the insert was written, and the error becomes a
/// retryable one that says so. Call inside a catch block.
[[noreturn]] void rethrow_insert_error(std::string_view table, Dialect dialect);

/// Whether the insert error being handled leaves a transaction of reflex's own worth running
/// again: a deadlock or serialization failure, or an id taken by a hole probe. Call inside a catch
/// block.
[[nodiscard]] bool insert_may_run_again(Dialect dialect);

/// `message` on one line: line breaks and tabs (libpq's "…\n\tIs the server running", a
/// statement's "LINE 1: … ^") become single spaces, and trailing white space goes.
[[nodiscard]] std::string one_line(std::string_view message);

}  // namespace reflex::rsql::detail
