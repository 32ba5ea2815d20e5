#include "postgres/statement_scan.hpp"

#include <algorithm>
#include <cctype>

namespace reflex::rsql::detail {

std::string_view trim_statement(std::string_view sql) {
  while (!sql.empty() &&
         (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) {
    sql.remove_suffix(1);
  }
  return sql;
}

std::string first_keyword(std::string_view sql) {
  std::string keyword;
  const auto start = sql.find_first_not_of(" \t\r\n(");
  for (auto i = start; i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i])); ++i) {
    keyword += static_cast<char>(std::tolower(static_cast<unsigned char>(sql[i])));
  }
  return keyword;
}

std::size_t highest_parameter(std::string_view sql) {
  std::size_t highest = 0;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    std::size_t end = i;
    if (c == '\'' || c == '"') {  // a doubled quote inside reads as two literals: same result
      end = sql.find(c, i + 1);
    } else if (c == '-' && sql.substr(i, 2) == "--") {
      end = sql.find('\n', i);
    } else if (c == '/' && sql.substr(i, 2) == "/*") {
      end = sql.find("*/", i + 2);
      if (end != std::string_view::npos) ++end;
    } else if (c == '$' && i + 1 < sql.size() && digit(sql[i + 1])) {
      std::size_t n = 0;
      for (end = i + 1; end < sql.size() && digit(sql[end]); ++end) {
        n = std::min<std::size_t>(n * 10 + static_cast<std::size_t>(sql[end] - '0'), 1u << 20);
      }
      highest = std::max(highest, n);
      --end;
    } else if (c == '$') {  // a dollar-quoted string: $tag$ … $tag$
      const auto close = sql.find('$', i + 1);
      if (close != std::string_view::npos) {
        const auto tag = sql.substr(i, close - i + 1);
        const bool is_tag = std::all_of(tag.begin() + 1, tag.end() - 1, [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
        });
        if (is_tag) {
          end = sql.find(tag, close + 1);
          if (end != std::string_view::npos) end += tag.size() - 1;
        }
      }
    }
    if (end == std::string_view::npos) break;
    i = end;
  }
  return highest;
}

}  // namespace reflex::rsql::detail
