#pragma once
// What EventsTable::insert_with must know of the caller's statement before it wraps it in
// `WITH reflex_change AS (…) INSERT INTO events …`, read without a SQL parser: its kind and the
// highest `$n` parameter it uses, skipping literals, quoted identifiers, comments and
// dollar-quoted strings.

#include <cstddef>
#include <string>
#include <string_view>

namespace reflex::rsql::detail {

/// The statement without trailing white space and semicolons.
[[nodiscard]] std::string_view trim_statement(std::string_view sql);

/// The statement's first keyword, lower case ("insert", "with", …), after white space and
/// opening parentheses; "" when it starts with something else.
[[nodiscard]] std::string first_keyword(std::string_view sql);

/// The highest $N `sql` uses outside literals, quoted identifiers and comments (0: none).
[[nodiscard]] std::size_t highest_parameter(std::string_view sql);

}  // namespace reflex::rsql::detail
