#pragma once
// A PostgreSQL connection of reflex's own (libpqxx 6) and how libpqxx's errors and values become
// rsql's: DatabaseError kinds from SQLSTATEs, bytea as hex, `?` placeholders as `$n`.

#include <memory>
#include <pqxx/pqxx>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "driver.hpp"

namespace reflex::rsql::detail {

/// Maps the exception being handled (a pqxx or reflex one) to a one-line DatabaseError; sets
/// `*broken` for connection failures when given. Call inside a catch block.
[[noreturn]] void rethrow_pg(bool* broken);

/// A prepared statement's name derived from its text, for statements on a caller's transaction:
/// the same text gets the same name on every connection (pqxx prepares it lazily on each, and
/// again after a reconnect), and two texts practically never share one (if they did, pqxx refuses
/// the redefinition: an error, never the wrong statement).
[[nodiscard]] std::string statement_name(std::string prefix, const std::string& sql);

/// Runs one of reflex's statements on a caller's transaction: prepared once per connection under
/// `name` (statement_name of `sql`) when `named`, otherwise unnamed, parsed where it runs (behind
/// a transaction pooler, a name prepared in one transaction is gone in the next).
pqxx::result exec_statement(pqxx::transaction_base& tx, bool named, const std::string& name,
                            const std::string& sql, const std::vector<const char*>& values);

/// Bytes as PostgreSQL's hex bytea input ("\\x0a1b…").
[[nodiscard]] std::string to_hex_bytea(std::string_view bytes);

/// Opens a connection; Unavailable when the server cannot be reached, ConfigError when it refuses
/// who we are or what we ask for.
[[nodiscard]] std::unique_ptr<pqxx::connection> open_pg_connection(const std::string& conninfo,
                                                                   const std::string& redacted);

/// Parameters as libpq text values (nullptr = NULL; bytea as hex).
class TextParams final {
 public:
  void assign(std::span<const Param> params);
  [[nodiscard]] auto dynamic() const { return pqxx::prepare::make_dynamic_params(pointers_); }
  [[nodiscard]] const std::vector<const char*>& pointers() const noexcept { return pointers_; }

 private:
  std::vector<std::string> storage_;
  std::vector<const char*> pointers_;
};

/// rsql::Sql on a caller's open transaction (the public sql_on): `named` prepares each statement
/// by name once per connection (not behind a transaction pooler).
[[nodiscard]] std::unique_ptr<Sql> callers_pg_sql(pqxx::transaction_base& tx, bool named);

/// Thread-safety: one thread at a time.
class PgSession final : public Session {
 public:
  /// Connects. With PoolMode::direct, refuses (ConfigError) a connection that comes through a
  /// pooler; with PoolMode::transaction, prepares nothing by name.
  PgSession(const std::string& conninfo, const std::string& redacted, PoolMode pool_mode);

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override;
  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override;
  void execute_script(std::string_view statements) override;
  void begin() override;
  void commit() override;
  void rollback() noexcept override;
  bool broken() const noexcept override { return broken_ || !conn_->is_open(); }

  /// The open transaction (between begin() and commit()/rollback()), for the producer API.
  [[nodiscard]] pqxx::work& transaction();

 private:
  pqxx::result run(std::string_view sql, std::span<const Param> params);
  /// The name `sql` is prepared under on this connection (preparing it the first time), or with
  /// named statements off its text with `$n` placeholders.
  const std::string& statement(std::string_view sql);

  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::work> tx_;
  const bool named_;
  const std::string name_prefix_;
  std::unordered_map<std::string, std::string> statements_;
  TextParams params_;
  bool broken_ = false;
};

}  // namespace reflex::rsql::detail
