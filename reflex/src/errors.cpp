#include "reflex/errors.hpp"

#include "reflex/event.hpp"

namespace reflex {

namespace {
std::string consume_message(const std::string& consumer, const std::string& event_id,
                            const std::string& foreign_id, const std::exception_ptr& cause) {
  std::string message = "consumer \"" + consumer + "\" failed on event id=" + event_id +
                        " foreign_id=" + foreign_id + ": ";
  try {
    if (cause) std::rethrow_exception(cause);
    message += "unknown error";
  } catch (const std::exception& e) {
    message += e.what();
  } catch (...) {
    message += "non-standard exception";
  }
  return message;
}
std::string conflict_message(const std::string& consumer, const std::string& stored,
                             const std::string& refused, std::string_view store) {
  std::string where = store.empty() ? std::string() : " in " + std::string(store);
  const auto s = parse_int64(stored);
  const auto r = parse_int64(refused);
  std::string message = "cursor of consumer '" + consumer + "'" + where;
  if (s && r && *r > *s) {
    message +=
        " was changed since this store read it (now " + stored + "; " + refused + " not written)";
  } else {
    message += " not moved back from " + (stored.empty() ? "(unknown)" : stored) + " to " +
               (refused.empty() ? "\"\"" : refused);
  }
  return message +
         ": another runner of this consumer is active (run one runner per consumer; to rewind on "
         "purpose use force_set or reflexctl cursors set --force)";
}

}  // namespace

CursorConflict::CursorConflict(std::string consumer, std::string stored, std::string refused,
                               std::string_view store)
    : CursorError(conflict_message(consumer, stored, refused, store)),
      consumer_(std::move(consumer)),
      stored_(std::move(stored)),
      refused_(std::move(refused)) {}

CursorConflict::CursorConflict(Message message, std::string consumer, std::string refused)
    : CursorError(message.text), consumer_(std::move(consumer)), refused_(std::move(refused)) {}

CursorConflict CursorConflict::fenced_out(std::string shard, std::uint64_t token,
                                          std::string refused, std::string_view store) {
  std::string text = "cursor " + (refused.empty() ? std::string("\"\"") : refused) + " of shard '" +
                     shard + "' not written";
  if (!store.empty()) text += " to " + std::string(store);
  text += ": its lease (token " + std::to_string(token) +
          ") was taken by another member after it expired (fenced out; this member stops the "
          "shard, which its new owner continues from the shard's cursor)";
  return CursorConflict(Message{std::move(text)}, std::move(shard), std::move(refused));
}

ConsumeError::ConsumeError(std::string consumer, std::string event_id, std::string foreign_id,
                           std::exception_ptr cause)
    : Error(consume_message(consumer, event_id, foreign_id, cause)),
      consumer_(std::move(consumer)),
      event_id_(std::move(event_id)),
      foreign_id_(std::move(foreign_id)),
      cause_(std::move(cause)) {}

bool ConsumeError::retryable() const noexcept {
  return is_retryable(cause_);
}

namespace detail {
std::exception_ptr cause_of(const std::exception& error) noexcept {
  if (const auto* e = dynamic_cast<const ConsumeError*>(&error)) return e->cause();
  if (const auto* e = dynamic_cast<const FilterError*>(&error)) return e->cause();
  if (const auto* e = dynamic_cast<const std::nested_exception*>(&error)) return e->nested_ptr();
  return nullptr;
}
}  // namespace detail

bool is_expected(const std::exception& error) noexcept {
  return find_error<Canceled>(error) != nullptr || find_error<Stopped>(error) != nullptr;
}

bool is_expected(const std::exception_ptr& error) noexcept {
  return find_error<Canceled>(error) != nullptr || find_error<Stopped>(error) != nullptr;
}

bool is_retryable(const std::exception& error) noexcept {
  if (const auto* e = dynamic_cast<const Error*>(&error)) return e->retryable();
  const auto cause = detail::cause_of(error);
  return cause ? is_retryable(cause) : false;
}

bool is_retryable(const std::exception_ptr& error) noexcept {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return is_retryable(e);
  } catch (...) {
  }
  return false;
}

}  // namespace reflex
