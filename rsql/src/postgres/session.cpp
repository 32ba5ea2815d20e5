#include "postgres/session.hpp"

#include <atomic>
#include <random>

#include "error_mapping.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#include "reflex/event.hpp"
#include "reflex/rsql/errors.hpp"

namespace reflex::rsql::detail {

namespace {

constexpr int kByteaOid = 17;

DatabaseErrorKind kind_of_sqlstate(const std::string& state) {
  if (state == "42P01") return DatabaseErrorKind::undefined_table;
  if (state == "42703") return DatabaseErrorKind::undefined_column;
  if (state == "23505") return DatabaseErrorKind::unique_violation;
  if (state == "40001" || state == "40P01" || state == "55P03") return DatabaseErrorKind::transient;
  if (state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03") {
    return DatabaseErrorKind::connection;
  }
  if (state.starts_with("22")) return DatabaseErrorKind::data;
  return DatabaseErrorKind::other;
}

/// What a statement prepared by name and gone (or already there) in a later transaction means.
std::string pooler_hint() {
  return "named prepared statements do not outlive a transaction on this connection, as behind "
         "PgBouncer in transaction pool mode: add ?pool_mode=transaction to reflex's DSN "
         "(DatabaseOptions::pool_mode = PoolMode::transaction)";
}

/// "reflex_<process>_<session>_": names no other session uses, so that a statement prepared by
/// name and then run on a server session it was not prepared on (a transaction pooler declared a
/// session pooler) fails as missing rather than meeting another session's statement of that name.
std::string session_prefix() {
  static const std::string process = [] {
    std::random_device random;
    std::string tag;
    const std::uint32_t bits = random();
    hex_append(tag, std::string_view(reinterpret_cast<const char*>(&bits), sizeof bits));
    return tag;
  }();
  static std::atomic<std::uint64_t> sessions{0};
  return "reflex_" + process + "_" + std::to_string(++sessions) + "_";
}

}  // namespace

[[noreturn]] void rethrow_pg(bool* broken) {
  try {
    throw;
  } catch (const DatabaseError&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    if (broken) *broken = true;
    throw DatabaseError(DatabaseErrorKind::connection,
                        "postgres: connection lost: " + one_line(e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    if (broken) *broken = true;
    throw DatabaseError(DatabaseErrorKind::connection,
                        "postgres: commit outcome unknown: " + one_line(e.what()));
  } catch (const pqxx::sql_error& e) {
    // 26000: the prepared statement does not exist; 42P05: it already exists.
    if (e.sqlstate() == "26000" || e.sqlstate() == "42P05") {
      throw ConfigError("postgres: " + one_line(e.what()) + ": " + pooler_hint());
    }
    const auto kind = kind_of_sqlstate(e.sqlstate());
    if (kind == DatabaseErrorKind::connection && broken) *broken = true;
    throw DatabaseError(kind, "postgres: " + one_line(e.what()));
  } catch (const pqxx::failure& e) {
    throw DatabaseError(DatabaseErrorKind::other, "postgres: " + one_line(e.what()));
  }
}

namespace {

/// `?` placeholders -> `$1, $2, ...` (our SQL has no `?` inside literals).
std::string number_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (const char c : sql) {
    if (c == '?') {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += c;
    }
  }
  return out;
}

/// Decodes PostgreSQL's hex bytea output ("\\x0a1b...") into `out`.
void from_hex_bytea(std::string_view text, std::string& out) {
  // The escape format (bytea_output = escape) is not produced by our sessions.
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || !hex_decode(text.substr(2), out)) {
    out.assign(text);
  }
}

/// One row of a result. The cells are read once per row through one column iterator: every
/// pqxx row and field object holds a reference-counted copy of the result, and creating one per
/// cell access was a tenth of a catch-up read's CPU.
class PgRow final : public Row {
 public:
  PgRow(const pqxx::result& result, std::vector<bool>& bytea)
      : result_(result), bytea_(bytea), cells_(bytea.size()) {}
  void at(pqxx::result::size_type index) {
    const pqxx::row row = result_[index];
    std::size_t c = 0;
    for (auto field = row.cbegin(); c < cells_.size(); ++field, ++c) {
      cells_[c] = {field.is_null(), std::string_view(field.c_str(), field.size())};
    }
  }
  bool is_null(int c) const override { return cells_[static_cast<std::size_t>(c)].null; }
  std::int64_t int64(int c) const override {
    const auto& cell = cells_[static_cast<std::size_t>(c)];
    if (cell.null) return 0;
    const auto value = parse_int64(cell.text);
    if (!value)
      throw DatabaseError(DatabaseErrorKind::data,
                          "postgres: not an integer: " + std::string(cell.text));
    return *value;
  }
  std::string_view text(int c) const override {
    const auto& cell = cells_[static_cast<std::size_t>(c)];
    if (!bytea_[static_cast<std::size_t>(c)]) return cell.text;
    from_hex_bytea(cell.text, scratch_);
    return scratch_;
  }

 private:
  struct Cell {
    bool null = true;
    std::string_view text{};
  };
  const pqxx::result& result_;
  std::vector<bool>& bytea_;
  std::vector<Cell> cells_;
  mutable std::string scratch_;
};

void for_each_row(const pqxx::result& result, const RowCallback& on_row) {
  std::vector<bool> bytea(static_cast<std::size_t>(result.columns()));
  for (pqxx::row::size_type c = 0; c < result.columns(); ++c) {
    bytea[c] = result.column_type(c) == kByteaOid;
  }
  PgRow row(result, bytea);
  for (pqxx::result::size_type i = 0; i < result.size(); ++i) {
    row.at(i);
    on_row(row);
  }
}

}  // namespace

std::string statement_name(std::string prefix, const std::string& sql) {
  const std::size_t hash = std::hash<std::string>{}(sql);
  hex_append(prefix, std::string_view(reinterpret_cast<const char*>(&hash), sizeof hash));
  return prefix;
}

std::string to_hex_bytea(std::string_view bytes) {
  std::string out = "\\x";
  hex_append(out, bytes);
  return out;
}

std::unique_ptr<pqxx::connection> open_pg_connection(const std::string& conninfo,
                                                     const std::string& redacted) {
  try {
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    const std::string message = one_line(e.what());
    for (const char* refused :
         {"password authentication failed", "does not exist", "no pg_hba.conf entry",
          "no password supplied", "invalid connection option", "invalid sslmode",
          "permission denied"}) {
      if (message.find(refused) != std::string::npos) {
        throw ConfigError("PostgreSQL refused " + redacted + ": " + message);
      }
    }
    throw Unavailable("PostgreSQL at " + redacted + " is unreachable: " + message);
  }
}

void TextParams::assign(std::span<const Param> params) {
  storage_.clear();
  pointers_.clear();
  storage_.reserve(params.size());
  for (const auto& param : params) {
    if (std::holds_alternative<std::nullptr_t>(param)) {
      storage_.emplace_back();
    } else if (const auto* i = std::get_if<std::int64_t>(&param)) {
      storage_.push_back(std::to_string(*i));
    } else if (const auto* t = std::get_if<std::string_view>(&param)) {
      storage_.emplace_back(*t);
    } else {
      storage_.push_back(to_hex_bytea(std::get<Blob>(param).bytes));
    }
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    pointers_.push_back(std::holds_alternative<std::nullptr_t>(params[i]) ? nullptr
                                                                          : storage_[i].c_str());
  }
}

pqxx::result exec_statement(pqxx::transaction_base& tx, bool named, const std::string& name,
                            const std::string& sql, const std::vector<const char*>& values) {
  if (!named) return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(values));
}

PgSession::PgSession(const std::string& conninfo, const std::string& redacted, PoolMode pool_mode)
    : conn_(open_pg_connection(conninfo, redacted)),
      named_(pool_mode != PoolMode::transaction),
      name_prefix_(session_prefix()) {
  if (pool_mode != PoolMode::direct) return;
  // A pooler answers the startup with a backend key of its own (PgBouncer: random bytes), while
  // the server reports its process: they differ only when something stands between. One query
  // per connection, so that a pooler nobody told reflex about is an error here, not statements
  // vanishing (or worse, a LISTEN that never hears) later.
  std::int64_t server_pid = 0;
  try {
    pqxx::nontransaction tx(*conn_);
    server_pid = tx.exec("SELECT pg_backend_pid()")[0][0].as<std::int64_t>();
  } catch (...) {
    rethrow_pg(&broken_);
  }
  if (server_pid != conn_->backendpid()) {
    throw ConfigError("PostgreSQL at " + redacted +
                      " answers through a connection pooler (its backend key names process " +
                      std::to_string(conn_->backendpid()) + ", the server's is " +
                      std::to_string(server_pid) +
                      "): add ?pool_mode=transaction to the DSN when it pools transactions (as "
                      "PgBouncer's pool_mode = transaction), ?pool_mode=session when it keeps "
                      "one server session per client");
  }
}

void PgSession::query(std::string_view sql, std::span<const Param> params,
                      const RowCallback& on_row) {
  const pqxx::result result = run(sql, params);
  for_each_row(result, on_row);
}

std::uint64_t PgSession::execute(std::string_view sql, std::span<const Param> params) {
  return static_cast<std::uint64_t>(run(sql, params).affected_rows());
}

void PgSession::execute_script(std::string_view statements) {
  try {
    if (tx_) {
      tx_->exec(std::string(statements));
    } else {
      pqxx::nontransaction tx(*conn_);
      tx.exec(std::string(statements));
    }
  } catch (...) {
    rethrow_pg(&broken_);
  }
}

void PgSession::begin() {
  try {
    tx_ = std::make_unique<pqxx::work>(*conn_);
  } catch (...) {
    rethrow_pg(&broken_);
  }
}
void PgSession::commit() {
  try {
    tx_->commit();
    tx_.reset();
  } catch (...) {
    tx_.reset();
    rethrow_pg(&broken_);
  }
}
pqxx::work& PgSession::transaction() {
  if (!tx_) throw Error("postgres: no transaction is open on this session");
  return *tx_;
}

void PgSession::rollback() noexcept {
  try {
    if (tx_) tx_->abort();
  } catch (...) {
  }
  tx_.reset();
}

pqxx::result PgSession::run(std::string_view sql, std::span<const Param> params) {
  try {
    const std::string& statement = this->statement(sql);
    params_.assign(params);
    const auto exec = [&](pqxx::transaction_base& tx) {
      return named_ ? tx.exec_prepared(statement, params_.dynamic())
                    : tx.exec_params(statement, params_.dynamic());
    };
    if (tx_) return exec(*tx_);
    pqxx::nontransaction tx(*conn_);
    return exec(tx);
  } catch (...) {
    rethrow_pg(&broken_);
  }
}

const std::string& PgSession::statement(std::string_view sql) {
  auto it = statements_.find(std::string(sql));
  if (it != statements_.end()) return it->second;
  if (!named_) return statements_.emplace(std::string(sql), number_placeholders(sql)).first->second;
  std::string name = name_prefix_ + std::to_string(statements_.size());
  conn_->prepare(name, number_placeholders(sql));
  return statements_.emplace(std::string(sql), std::move(name)).first->second;
}

}  // namespace reflex::rsql::detail

namespace reflex::rsql::detail {
namespace {

/// Statements on a caller's libpqxx transaction (sql_on): each text prepared once per connection
/// under a name derived from it, or unnamed behind a transaction pooler.
class CallersPgSql final : public Sql {
 public:
  CallersPgSql(pqxx::transaction_base& tx, bool named) : tx_(tx), named_(named) {}

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override {
    for_each_row(run(sql, params), on_row);
  }
  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override {
    return static_cast<std::uint64_t>(run(sql, params).affected_rows());
  }

 private:
  pqxx::result run(std::string_view sql, std::span<const Param> params) {
    try {
      const std::string text = number_placeholders(sql);
      params_.assign(params);
      return exec_statement(tx_, named_, named_ ? statement_name("reflex_sql_", text) : "", text,
                            params_.pointers());
    } catch (...) {
      rethrow_pg(nullptr);
    }
  }

  pqxx::transaction_base& tx_;
  const bool named_;
  TextParams params_;
};

}  // namespace

std::unique_ptr<Sql> callers_pg_sql(pqxx::transaction_base& tx, bool named) {
  return std::make_unique<CallersPgSql>(tx, named);
}

}  // namespace reflex::rsql::detail
