#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "reflex/export.hpp"

namespace reflex {

/// Anything usable as an event type: an enum (scoped or not) or an integer.
template <class T>
concept EventType = std::is_enum_v<T> || std::integral<T>;

/// A notification that entity `foreign_id` had a change of kind `type`. Events are pointers to
/// state changes, not the state itself; `metadata` is optional opaque bytes.
///
/// Thread-safety: a plain value; distinct objects may be used from distinct threads.
struct REFLEX_CORE_EXPORT Event {
  /// Unique, source-ordered id; also the cursor a consumer stores after consuming this event.
  std::string id{};
  int type = 0;
  std::string foreign_id{};
  std::chrono::system_clock::time_point timestamp{};
  std::string metadata{};
  /// W3C traceparent (or any trace context bytes) of the transaction that produced the event.
  std::string trace{};

  /// The id as an integer. Throws reflex::Error naming the id when it is not a decimal integer.
  [[nodiscard]] std::int64_t id_int() const;
  /// The foreign id as an integer. Throws reflex::Error naming it when it is not a decimal integer.
  [[nodiscard]] std::int64_t foreign_id_int() const;
  /// Non-throwing forms: std::nullopt when the text is not exactly a decimal 64-bit integer.
  [[nodiscard]] std::optional<std::int64_t> try_id_int() const noexcept;
  [[nodiscard]] std::optional<std::int64_t> try_foreign_id_int() const noexcept;

  friend bool operator==(const Event&, const Event&) = default;
};

/// Parses a whole string as a decimal 64-bit integer (no sign '+', no spaces, no trailing text).
[[nodiscard]] REFLEX_CORE_EXPORT std::optional<std::int64_t> parse_int64(
    std::string_view text) noexcept;

/// The integer value of an event type.
template <EventType T>
[[nodiscard]] constexpr int type_value(T type) noexcept {
  return static_cast<int>(type);
}

/// True when the event's type equals `type` (any enum or integer).
template <EventType T>
[[nodiscard]] constexpr bool is_type(const Event& event, T type) noexcept {
  return event.type == type_value(type);
}

/// True when the event's type is one of `types`.
template <EventType... T>
[[nodiscard]] constexpr bool is_any_type(const Event& event, T... types) noexcept {
  return ((event.type == type_value(types)) || ...);
}

}  // namespace reflex
