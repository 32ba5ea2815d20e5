// The PostgreSQL dialect's driver: DSN to libpq conninfo, and the dialect's SQL fragments,
// sessions (session.cpp), gap policy (gap_policy.cpp) and wake-ups (notifier.cpp).
#include "driver.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

#include "postgres/dialect.hpp"
#include "postgres/session.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/postgres.hpp"

namespace reflex::rsql::detail {

namespace {

std::string conninfo_value(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

class PgDriver final : public Driver {
 public:
  PgDriver(std::string conninfo, std::string redacted, PoolMode pool_mode)
      : conninfo_(std::move(conninfo)), redacted_(std::move(redacted)), pool_mode_(pool_mode) {}

  /// The DSN names a standby of this primary (DatabaseOptions::primary_dsn).
  void set_primary(std::string conninfo, std::string redacted, PoolMode pool_mode) {
    primary_conninfo_ = std::move(conninfo);
    primary_redacted_ = std::move(redacted);
    primary_pool_mode_ = pool_mode;
  }

  Dialect dialect() const noexcept override { return Dialect::postgres; }
  const std::string& redacted_dsn() const noexcept override { return redacted_; }
  std::unique_ptr<Session> connect() override {
    return std::make_unique<PgSession>(conninfo_, redacted_, pool_mode_);
  }
  bool keeps_session_state() const noexcept override { return pool_mode_ != PoolMode::transaction; }
  std::string micros_expr(std::string_view column) const override {
    return "(EXTRACT(EPOCH FROM " + std::string(column) + ") * 1000000)::bigint";
  }
  std::string now_expr() const override { return "now()"; }
  std::string micros_param_expr() const override { return "to_timestamp(?::bigint / 1000000.0)"; }
  void insert_events(Session& session, const EventsTable& table,
                     std::span<const NewEvent> events) override {
    (void)rsql::insert_events(table, static_cast<PgSession&>(session).transaction(), events);
  }
  std::unique_ptr<GapPolicy> make_gap_policy(const TableContext& table) override {
    PrimaryConnect primary;
    if (!primary_conninfo_.empty()) {
      primary = [conninfo = primary_conninfo_, redacted = primary_redacted_,
                 pool_mode = primary_pool_mode_] {
        return std::make_unique<PgSession>(conninfo, redacted, pool_mode);
      };
    }
    return make_pg_gap_policy(table, std::move(primary), primary_redacted_);
  }
  std::unique_ptr<CrossNotifier> make_cross_notifier(const EventsSchema& schema,
                                                     std::function<void()> on_wake) override {
    // A standby runs no LISTEN, and a NOTIFY on the primary may come before the standby has
    // replayed the commit it announces: its streams poll (EventsTableOptions::poll_interval).
    if (!primary_conninfo_.empty()) return nullptr;
    std::string channel = "reflex_" + schema.table;
    std::transform(channel.begin(), channel.end(), channel.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return make_pg_cross_notifier(conninfo_, redacted_, std::move(channel), pool_mode_,
                                  std::move(on_wake));
  }

 private:
  std::string conninfo_;
  std::string redacted_;
  PoolMode pool_mode_;
  std::string primary_conninfo_;
  std::string primary_redacted_;
  PoolMode primary_pool_mode_ = PoolMode::direct;
};

PoolMode parse_pool_mode(const Uri& uri, std::string_view value) {
  if (value == "direct") return PoolMode::direct;
  if (value == "session") return PoolMode::session;
  if (value == "transaction") return PoolMode::transaction;
  throw ConfigError("PostgreSQL DSN " + uri.redacted() + " has pool_mode=" + std::string(value) +
                    ": expected direct, session (a pooler lending a session per client) or "
                    "transaction (one per transaction, as PgBouncer's transaction pooling)");
}

/// The libpq conninfo of a postgresql:// DSN, and the pool mode it asks for.
std::pair<std::string, PoolMode> pg_conninfo(const Uri& uri, const DatabaseOptions& options) {
  if (uri.host.empty()) {
    throw ConfigError("PostgreSQL DSN " + uri.redacted() +
                      " names no host: use postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE");
  }
  std::string dbname = uri.path;
  if (!dbname.empty() && dbname.front() == '/') dbname.erase(0, 1);
  if (dbname.empty() || dbname.find('/') != std::string::npos) {
    throw ConfigError("PostgreSQL DSN " + uri.redacted() +
                      " must name one database: postgresql://USER@HOST:PORT/DATABASE");
  }
  std::string conninfo = "host=" + conninfo_value(uri.host) + " dbname=" + conninfo_value(dbname);
  if (uri.port) conninfo += " port=" + std::to_string(*uri.port);
  if (!uri.user.empty()) conninfo += " user=" + conninfo_value(uri.user);
  if (uri.password) conninfo += " password=" + conninfo_value(*uri.password);
  const auto timeout = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options.connect_timeout).count());
  conninfo += " connect_timeout=" + std::to_string(timeout);
  PoolMode pool_mode = options.pool_mode;
  for (const auto& [key, value] : uri.query) {
    if (key == "pool_mode") {  // reflex's own, not libpq's
      pool_mode = parse_pool_mode(uri, value);
      continue;
    }
    validate_identifier("PostgreSQL connection option", key);
    conninfo += " " + key + "=" + conninfo_value(value);
  }
  return {std::move(conninfo), pool_mode};
}

}  // namespace

std::shared_ptr<Driver> make_postgres_driver(const Uri& uri, const DatabaseOptions& options) {
  auto [conninfo, pool_mode] = pg_conninfo(uri, options);
  auto driver = std::make_shared<PgDriver>(std::move(conninfo), uri.redacted(), pool_mode);
  if (!options.primary_dsn.empty()) {
    const Uri primary = parse_uri(options.primary_dsn);
    if (primary.scheme != "postgresql" && primary.scheme != "postgres") {
      throw ConfigError("DatabaseOptions::primary_dsn " + primary.redacted() +
                        " is not a PostgreSQL DSN: name the standby's primary, "
                        "postgresql://USER@HOST:PORT/DATABASE");
    }
    // Not the standby's pool mode: the primary's DSN says its own.
    auto [primary_conninfo, primary_pool_mode] =
        pg_conninfo(primary, {.connect_timeout = options.connect_timeout});
    driver->set_primary(std::move(primary_conninfo), primary.redacted(), primary_pool_mode);
  }
  return driver;
}

}  // namespace reflex::rsql::detail
