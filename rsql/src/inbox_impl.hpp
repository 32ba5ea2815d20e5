#pragma once
// What an rsql::Inbox holds: its statements (shared with the dialects' record() on a caller's
// transaction), its sessions and its background purge.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "reflex/rsql/inbox.hpp"
#include "session_pool.hpp"

namespace reflex::rsql::detail {

/// Thread-safety: every member may be called from any thread.
class InboxImpl final {
 public:
  InboxImpl(std::shared_ptr<Database> database, InboxOptions options);
  ~InboxImpl();
  InboxImpl(const InboxImpl&) = delete;
  InboxImpl& operator=(const InboxImpl&) = delete;

  /// ConfigError unless the inbox is of `dialect` (`what` names the call).
  void expect_dialect(Dialect dialect, std::string_view what) const;
  /// ConfigError for an empty source or a source or event id MariaDB's column would cut.
  static void check(std::string_view source, std::string_view event_id);
  /// The dialect's insert-if-absent of one record with the given value expressions ("?", "$1",
  /// a quoted literal).
  [[nodiscard]] std::string insert_sql(std::string_view source, std::string_view event_id) const;

  [[nodiscard]] bool contains(std::string_view source, std::string_view event_id);
  bool record(std::string_view source, std::string_view event_id);
  std::size_t purge(std::stop_token stop, std::chrono::system_clock::time_point older_than);

  const std::shared_ptr<Database> database;
  const InboxOptions options;
  const Dialect dialect;
  /// insert_sql("?", "?"): what record() runs on reflex's own sessions and on a sqlite3*.
  const std::string insert;

 private:
  template <class Fn>
  auto with_session(Fn&& fn);
  void purge_periodically(std::stop_token stop);

  SessionPool pool_;
  std::string select_, purge_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread purger_;  // last: stops before the members it uses go
};

}  // namespace reflex::rsql::detail
