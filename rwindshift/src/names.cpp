#include "reflex/rwindshift/names.hpp"

namespace reflex::rwindshift {
namespace {

bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

bool is_valid_subject(std::string_view subject, bool wildcards) {
  if (subject.empty() || subject.front() == '.' || subject.back() == '.') return false;
  for (std::size_t i = 0; i < subject.size(); ++i) {
    const char c = subject[i];
    if (plain(c)) continue;
    if (c == '.' && subject[i - 1] != '.') continue;
    // windshift checks only that a wildcard follows a '.', so "a.*b" passes there; NATS would
    // refuse it later with a less helpful message, and we keep windshift's answer.
    if (wildcards && (c == '*' || c == '>')) {
      if (i == 0 || subject[i - 1] != '.') return false;
      if (c == '>' && i != subject.size() - 1) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool is_valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!plain(c)) return false;
  }
  return true;
}

}  // namespace reflex::rwindshift
