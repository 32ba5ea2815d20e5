#pragma once
// NATS messages whose header block is written once, as the bytes the server receives
// ("NATS/1.0\r\n", a "Name: value\r\n" line per header, "\r\n"), into a buffer reused from one
// message to the next. nats.c's own way (natsMsgHeader_Set) builds a hash map per message, a
// value copy and a map entry per header, which it walks again to encode them when publishing,
// and a second thread frees afterwards: the relay's publishing cost more in headers than in
// anything else.

#include <nats/nats.h>

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "handles.hpp"

namespace reflex::rnats::detail {

/// Appends `value` to `out` as encode_header_value (codec.hpp) writes it, without a temporary
/// when it needs no escape (the usual case: ids and numbers).
void append_encoded(std::string& out, std::string_view value);

/// Writes one message at a time: clear(), header()..., build().
///
/// Thread-safety: one thread at a time. Lifetime: reusable; each build() returns a message of
/// its own (the builder keeps nothing of it).
class MessageBuilder final {
 public:
  MessageBuilder();

  /// Starts the next message: forgets the headers written since the last clear().
  void clear();
  /// Adds the header line `name: value`. The caller vouches for the name (non-empty, no ':',
  /// spaces or line breaks) and the value (no line breaks); message() in codec.hpp checks those
  /// it is given.
  void header(std::string_view name, std::string_view value);
  /// Adds `name` with `value` written as encode_header_value writes it (codec.hpp).
  void encoded_header(std::string_view name, std::string_view value);
  /// Adds `name` with `value` in decimal.
  template <std::integral T>
  void number_header(std::string_view name, T value) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    header(name, std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
  /// The message on `subject` with the headers written so far and `data` as payload, answered on
  /// `reply` unless it is empty. Throws reflex::Error (from nats.c's status) when it cannot.
  [[nodiscard]] MsgPtr build(std::string_view subject, std::string_view reply,
                             std::string_view data);
  /// The same message built through nats.c's public header API: what build() does on a nats.c
  /// whose internals it does not know, kept callable so that tests compare both.
  [[nodiscard]] MsgPtr build_portable(std::string_view subject, std::string_view reply,
                                      std::string_view data);

 private:
  struct Line {
    std::size_t name, name_size, value, value_size;
  };
  void begin_value(std::string_view name);
  void end_value();

  std::string block_;          // "NATS/1.0\r\n" and the header lines, then the payload
  std::vector<Line> lines_{};  // where each header is in block_ (for build_portable)
  std::string subject_{};      // NUL-terminated copies for nats.c
  std::string reply_{};
};

}  // namespace reflex::rnats::detail
