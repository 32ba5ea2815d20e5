// reflexd's log lines (see log.hpp).

#include "log.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace reflexd {
namespace {

const char* name_of(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

/// Now as RFC 3339 UTC with microseconds: 2026-12-01T12:00:00.123456Z.
std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const auto seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%06lldZ", static_cast<long long>(micros % 1'000'000));
  return text;
}

nlohmann::ordered_json json_of(const Field::Value& value) {
  return std::visit(
      [](const auto& v) -> nlohmann::ordered_json {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, double>) {
          // JSON has no NaN or infinity: such a value is said as text rather than break the line.
          if (!std::isfinite(v)) return std::to_string(v);
        }
        return v;
      },
      value);
}

std::string text_of(const Field::Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          // Quoted when a reader could not tell where it ends.
          if (v.empty() || v.find_first_of(" \t\n\"=") != std::string::npos) {
            return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          }
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return nlohmann::json(v).dump();
        }
      },
      value);
}

}  // namespace

bool parse_level(std::string_view text, Level& level) {
  for (const Level l : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (text == name_of(l)) {
      level = l;
      return true;
    }
  }
  return false;
}

std::string Log::format(Level level, std::string_view message,
                        std::initializer_list<Field> fields) const {
  const std::string time = now_rfc3339();
  if (human_) {
    // 12:00:00.123456 INFO message name=value …: the date is noise on a developer's terminal.
    std::string line = time.substr(11, 15) + " " + name_of(level) + " " + std::string(message);
    for (const auto& f : fields) line += " " + std::string(f.name) + "=" + text_of(f.value);
    return line;
  }
  nlohmann::ordered_json line;
  line["ts"] = time;
  line["level"] = name_of(level);
  line["msg"] = message;
  for (const auto& f : fields) {
    // A field never overwrites the line's own keys.
    std::string name(f.name);
    if (name == "ts" || name == "level" || name == "msg") name = "field." + name;
    line[name] = json_of(f.value);
  }
  // Bytes that are not UTF-8 (a foreign id from a bad row) become U+FFFD: a log line is valid
  // JSON whatever it mentions.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Log::write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < min_) return;
  const std::string line = format(level, message, fields) + "\n";
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace reflexd
