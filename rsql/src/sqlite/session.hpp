#pragma once
// An SQLite connection of reflex's own (WAL mode, a busy timeout) and the prepared statement
// both reflex's sessions and the producer's own connection (insert.cpp) run.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "driver.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace reflex::rsql::detail {

/// A prepared statement on a connection, finalized on destruction. Errors are DatabaseError.
///
/// Thread-safety: one thread at a time (its connection's).
class Statement final {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Resets the statement and binds `params` in order.
  void bind(std::span<const Param> params);
  /// Steps to the end, calling `on_row` (when given) for each row.
  void run(const RowCallback* on_row);

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// Thread-safety: one thread at a time.
class SqliteSession final : public Session {
 public:
  SqliteSession(const std::string& path, const DatabaseOptions& options);
  ~SqliteSession() override;

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override;
  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override;
  void execute_script(std::string_view statements) override;
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  bool broken() const noexcept override { return false; }

  /// The connection (inside a transaction between begin() and commit()/rollback()), for the
  /// producer API.
  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }

 private:
  Statement& statement(std::string_view sql);

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
};

}  // namespace reflex::rsql::detail
