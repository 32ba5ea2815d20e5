#pragma once
// Subject patterns: which covers which, the narrowest one covering several, and how a consumer's
// several filter subjects are kept in its description (nats-server 2.9 filters by one subject).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reflex::rnats::detail {

/// True when every subject `subject` matches (it may hold wildcards itself) is matched by
/// `pattern`: "a.*" covers "a.b" and "a.*", "a.>" covers "a.b.c" and "a.*.>", ">" covers all.
[[nodiscard]] bool covers(std::string_view pattern, std::string_view subject);

/// One of `subjects` that covers all the others, if any.
[[nodiscard]] std::optional<std::string> covering_member(const std::vector<std::string>& subjects);

/// The narrowest single pattern covering all `subjects` that can be built token by token
/// (`*` where they differ, `.>` when their lengths differ); "" when only ">" would (no filter).
[[nodiscard]] std::string covering_pattern(const std::vector<std::string>& subjects);

/// How a consumer's description carries its filter subjects: "[reflex-filter-subjects: a.b c.>]"
/// at its end (after the user's text and a space). One line: nats.c sends descriptions unescaped
/// in JSON.
inline constexpr std::string_view kFilterPrefix = "[reflex-filter-subjects: ";

/// `description` with the filter subjects appended.
[[nodiscard]] std::string with_filter_line(const std::string& description,
                                           const std::vector<std::string>& subjects);
/// Splits a stored description into the user's text and the filter subjects (empty if none).
void split_filter_line(std::string_view stored, std::string& description,
                       std::vector<std::string>& subjects);

}  // namespace reflex::rnats::detail
