#include "message_builder.hpp"

#include <array>

#include "codec.hpp"
#include "status.hpp"

// nats.c 3.x makes every message it receives with this function (src/msg.h, exported but not in
// nats.h): one allocation holding subject, reply, header block and payload, the headers kept as
// bytes until someone reads them. A message made so is published with its header block as it is.
// Its signature is the same from nats.c 2.2 (headers) through 3.x; another major version takes
// the public path.
#if NATS_VERSION_MAJOR == 3
#define REFLEX_RNATS_RAW_HEADERS 1
extern "C" natsStatus natsMsg_create(natsMsg** new_msg, const char* subject, int subject_len,
                                     const char* reply, int reply_len, const char* buf, int buf_len,
                                     int hdr_len);
#else
#define REFLEX_RNATS_RAW_HEADERS 0
#endif

namespace reflex::rnats::detail {

namespace {

constexpr std::string_view kStatusLine = "NATS/1.0\r\n";
constexpr std::string_view kLineEnd = "\r\n";

/// Bytes a header value keeps as they are (as encode_header_value in codec.cpp decides).
constexpr std::array<bool, 256> kept_bytes() {
  std::array<bool, 256> keep{};
  for (int c = 0x21; c < 0x7f; ++c) keep[static_cast<std::size_t>(c)] = c != '%';
  return keep;
}
constexpr std::array<bool, 256> kKept = kept_bytes();

int size_of(std::size_t n, std::string_view what) {
  if (n > static_cast<std::size_t>(INT32_MAX)) {
    throw_status(NATS_INVALID_ARG, std::string(what) + " is larger than 2 GiB");
  }
  return static_cast<int>(n);
}

}  // namespace

MessageBuilder::MessageBuilder() : block_(kStatusLine) {
  block_.reserve(512);
#if REFLEX_RNATS_RAW_HEADERS
  // nats.c's public constructors open the library (its message GC among it) on first use; the
  // internal one does not, and destroying its message before anything opened the library would
  // lock a mutex that does not exist yet. Idempotent: later calls return at once.
  static const natsStatus opened = nats_Open(-1);
  check(opened, "initialise the NATS library");
#endif
}

void MessageBuilder::clear() {
  block_.resize(kStatusLine.size());
  lines_.clear();
}

void MessageBuilder::begin_value(std::string_view name) {
  lines_.push_back({.name = block_.size(), .name_size = name.size(), .value = 0, .value_size = 0});
  block_.append(name).append(": ");
  lines_.back().value = block_.size();
}

void MessageBuilder::end_value() {
  lines_.back().value_size = block_.size() - lines_.back().value;
  block_.append(kLineEnd);
}

void MessageBuilder::header(std::string_view name, std::string_view value) {
  begin_value(name);
  const std::size_t from = block_.size();
  block_.append(value);
  // What nats.c's encoder does to a line break in a value, so no value can end its line early.
  for (std::size_t i = from; i < block_.size(); ++i) {
    if (block_[i] == '\r' || block_[i] == '\n') block_[i] = ' ';
  }
  end_value();
}

void append_encoded(std::string& out, std::string_view value) {
  bool plain = true;
  for (const char c : value) plain = plain && kKept[static_cast<unsigned char>(c)];
  if (plain) {
    out.append(value);
  } else {
    out.append(encode_header_value(value));
  }
}

void MessageBuilder::encoded_header(std::string_view name, std::string_view value) {
  begin_value(name);
  append_encoded(block_, value);
  end_value();
}

MsgPtr MessageBuilder::build(std::string_view subject, std::string_view reply,
                             std::string_view data) {
#if REFLEX_RNATS_RAW_HEADERS
  if (subject.empty()) throw_status(NATS_INVALID_SUBJECT, "create a NATS message: no subject");
  // Header block and payload are one buffer for nats.c; without headers, the payload alone.
  const std::size_t mark = block_.size();
  std::size_t headers = 0;
  std::string_view body = data;
  if (!lines_.empty()) {
    block_.append(kLineEnd);
    headers = block_.size();
    block_.append(data);
    body = block_;
  }
  natsMsg* raw = nullptr;
  const natsStatus s =
      natsMsg_create(&raw, subject.data(), size_of(subject.size(), "the subject"), reply.data(),
                     size_of(reply.size(), "the reply subject"), body.data(),
                     size_of(body.size(), "a message"), static_cast<int>(headers));
  block_.resize(mark);
  check(s, "create a NATS message on subject \"" + std::string(subject) + "\"");
  return MsgPtr(raw);
#else
  return build_portable(subject, reply, data);
#endif
}

MsgPtr MessageBuilder::build_portable(std::string_view subject, std::string_view reply,
                                      std::string_view data) {
  subject_.assign(subject);
  reply_.assign(reply);
  natsMsg* raw = nullptr;
  check(natsMsg_Create(&raw, subject_.c_str(), reply_.empty() ? nullptr : reply_.c_str(),
                       data.data(), size_of(data.size(), "a message")),
        "create a NATS message on subject \"" + subject_ + "\"");
  MsgPtr msg(raw);
  std::string name, value;
  for (const Line& line : lines_) {
    name.assign(block_, line.name, line.name_size);
    value.assign(block_, line.value, line.value_size);
    check(natsMsgHeader_Set(msg.get(), name.c_str(), value.c_str()),
          "set header " + name + " of a NATS message");
  }
  return msg;
}

}  // namespace reflex::rnats::detail
