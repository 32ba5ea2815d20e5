#pragma once
// reflexd's logs: one JSON object per line on stderr (what log shippers read), or, with
// DEVELOPMENT=true, one human-readable line. Every line has a time (`ts`), a level and a message
// (`msg`); the fields say what it is about (`service`, `stream`, `error`, …).

#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace reflexd {

enum class Level { debug, info, warn, error };

/// Parses "debug", "info", "warn" or "error" into `level`; false when it is none of them.
[[nodiscard]] bool parse_level(std::string_view text, Level& level);

/// A field of a log line: a name and its text, number or truth value.
struct Field {
  using Value = std::variant<std::string, std::int64_t, std::uint64_t, double, bool>;

  std::string_view name;
  Value value;

  Field(std::string_view n, std::string_view v) : name(n), value(std::string(v)) {}
  Field(std::string_view n, const char* v) : name(n), value(std::string(v)) {}
  Field(std::string_view n, const std::string& v) : name(n), value(v) {}
  Field(std::string_view n, bool v) : name(n), value(v) {}
  template <class Number>
  requires(std::is_integral_v<Number> && !std::is_same_v<Number, bool>)
      Field(std::string_view n, Number v)
      : name(n) {
    if constexpr (std::is_signed_v<Number>) {
      value = static_cast<std::int64_t>(v);
    } else {
      value = static_cast<std::uint64_t>(v);
    }
  }
  Field(std::string_view n, double v) : name(n), value(v) {}
};

/// Writes log lines to stderr.
///
/// Thread-safety: every member may be called from any thread; lines are never interleaved.
class Log final {
 public:
  /// `human`: DEVELOPMENT's format. `min`: lines below it are dropped.
  explicit Log(bool human = false, Level min = Level::info) : human_(human), min_(min) {}

  void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
  void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::debug, m, f); }
  void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::info, m, f); }
  void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::warn, m, f); }
  void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::error, m, f); }

  /// The line write() prints for these arguments, without its newline.
  [[nodiscard]] std::string format(Level level, std::string_view message,
                                   std::initializer_list<Field> fields) const;

 private:
  bool human_;
  Level min_;
  std::mutex mu_;  // one line at a time on stderr
};

}  // namespace reflexd
