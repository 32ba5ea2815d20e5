#include "subjects.hpp"

#include <algorithm>
#include <cstddef>

namespace reflex::rnats::detail {

namespace {

std::vector<std::string_view> tokens(std::string_view subject) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto dot = subject.find('.', start);
    out.push_back(subject.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

}  // namespace

bool covers(std::string_view pattern, std::string_view subject) {
  const auto p = tokens(pattern);
  const auto s = tokens(subject);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return i < s.size();  // one token or more
    if (i >= s.size()) return false;
    if (s[i] == ">") return false;  // any number of tokens: only '>' covers that
    if (p[i] == "*") continue;      // one token, literal or '*'
    if (p[i] != s[i]) return false;
  }
  return p.size() == s.size();
}

std::optional<std::string> covering_member(const std::vector<std::string>& subjects) {
  for (const auto& candidate : subjects) {
    if (std::all_of(subjects.begin(), subjects.end(),
                    [&](const std::string& s) { return covers(candidate, s); })) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string covering_pattern(const std::vector<std::string>& subjects) {
  if (subjects.empty()) return {};
  std::vector<std::vector<std::string_view>> all;
  all.reserve(subjects.size());
  std::size_t shortest = SIZE_MAX;
  bool same_length = true;
  bool any_rest = false;  // some subject ends in '>'
  for (const auto& s : subjects) {
    all.push_back(tokens(s));
    if (!all.empty() && all.back().size() != all.front().size()) same_length = false;
    shortest = std::min(shortest, all.back().size());
    if (all.back().back() == ">") any_rest = true;
  }
  // Same length without '>': token by token. Otherwise the tokens all of them have before their
  // last, then '>' for the rest.
  const bool exact = same_length && !any_rest;
  const std::size_t n = exact ? shortest : shortest - 1;
  if (n == 0) return {};
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string_view token = all.front()[i];
    for (const auto& t : all) {
      if (t[i] != token) token = "*";
    }
    if (!out.empty()) out += '.';
    out += token;
  }
  if (!exact) out += ".>";
  return out;
}

std::string with_filter_line(const std::string& description,
                             const std::vector<std::string>& subjects) {
  std::string out = description;
  if (!out.empty()) out += ' ';
  out += kFilterPrefix;
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    if (i > 0) out += ' ';
    out += subjects[i];
  }
  out += ']';
  return out;
}

void split_filter_line(std::string_view stored, std::string& description,
                       std::vector<std::string>& subjects) {
  subjects.clear();
  const auto at = stored.rfind(kFilterPrefix);
  if (at == std::string_view::npos || stored.empty() || stored.back() != ']') {
    description.assign(stored);
    return;
  }
  description.assign(stored.substr(0, at > 0 && stored[at - 1] == ' ' ? at - 1 : at));
  std::string_view rest = stored.substr(at + kFilterPrefix.size());
  rest.remove_suffix(1);
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    if (space != 0) subjects.emplace_back(rest.substr(0, space));
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
}

}  // namespace reflex::rnats::detail
