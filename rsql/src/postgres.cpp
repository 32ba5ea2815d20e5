// The PostgreSQL dialect (libpqxx 6).
//
// Gap safety by the transaction-id horizon (see GapPolicy below and the README): exact, no writes
// by readers, no no-op rows. Cross-process wake-ups by LISTEN/NOTIFY on sessions of their own,
// never inside a producer's transaction.

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "reflex/errors.hpp"
#include "reflex/wait.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {
namespace detail {
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

/// Maps the current pqxx exception to a DatabaseError; sets `broken` for connection failures.
[[noreturn]] void rethrow_pg(bool* broken) {
  try {
    throw;
  } catch (const DatabaseError&) {
    throw;
  } catch (const pqxx::broken_connection& e) {
    if (broken) *broken = true;
    throw DatabaseError(DatabaseErrorKind::connection,
                        std::string("postgres: connection lost: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    if (broken) *broken = true;
    throw DatabaseError(DatabaseErrorKind::connection,
                        std::string("postgres: commit outcome unknown: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    const auto kind = kind_of_sqlstate(e.sqlstate());
    if (kind == DatabaseErrorKind::connection && broken) *broken = true;
    std::string message = e.what();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    throw DatabaseError(kind, "postgres: " + message);
  } catch (const pqxx::failure& e) {
    throw DatabaseError(DatabaseErrorKind::other, std::string("postgres: ") + e.what());
  }
}

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

std::string to_hex_bytea(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(2 + bytes.size() * 2);
  out[0] = '\\';
  out[1] = 'x';
  std::size_t i = 2;
  for (const unsigned char c : bytes) {
    out[i++] = kDigits[c >> 4];
    out[i++] = kDigits[c & 0xf];
  }
  return out;
}

/// Nibble values of hex digits (0 for anything else), for decoding bytea without branches.
constexpr auto kHexValue = [] {
  std::array<unsigned char, 256> table{};
  for (int c = 0; c < 10; ++c) table['0' + c] = static_cast<unsigned char>(c);
  for (int c = 0; c < 6; ++c) {
    table['a' + c] = static_cast<unsigned char>(10 + c);
    table['A' + c] = static_cast<unsigned char>(10 + c);
  }
  return table;
}();

/// Decodes PostgreSQL's hex bytea output ("\x0a1b...") into `out`.
void from_hex_bytea(std::string_view text, std::string& out) {
  out.clear();
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') {
    out.assign(text);  // escape format (bytea_output = escape) is not produced by our sessions
    return;
  }
  out.resize((text.size() - 2) / 2);
  for (std::size_t i = 0, j = 2; i < out.size(); ++i, j += 2) {
    out[i] = static_cast<char>((kHexValue[static_cast<unsigned char>(text[j])] << 4) |
                               kHexValue[static_cast<unsigned char>(text[j + 1])]);
  }
}

/// Parameters as libpq text values (nullptr = NULL; bytea as hex).
class TextParams {
 public:
  void assign(std::span<const Param> params) {
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
  [[nodiscard]] auto dynamic() const { return pqxx::prepare::make_dynamic_params(pointers_); }

 private:
  std::vector<std::string> storage_;
  std::vector<const char*> pointers_;
};

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

/// Opens a connection; Unavailable when the server cannot be reached, ConfigError when it refuses
/// who we are or what we ask for.
std::unique_ptr<pqxx::connection> open_connection(const std::string& conninfo,
                                                  const std::string& redacted) {
  try {
    return std::make_unique<pqxx::connection>(conninfo);
  } catch (const std::exception& e) {
    std::string message = e.what();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
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

class PgSession final : public Session {
 public:
  PgSession(const std::string& conninfo, const std::string& redacted)
      : conn_(open_connection(conninfo, redacted)) {}

  void query(std::string_view sql, std::span<const Param> params,
             const RowCallback& on_row) override {
    const pqxx::result result = run(sql, params);
    for_each_row(result, on_row);
  }

  std::uint64_t execute(std::string_view sql, std::span<const Param> params) override {
    return static_cast<std::uint64_t>(run(sql, params).affected_rows());
  }

  void execute_script(std::string_view statements) override {
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

  void begin() override {
    try {
      tx_ = std::make_unique<pqxx::work>(*conn_);
    } catch (...) {
      rethrow_pg(&broken_);
    }
  }
  void commit() override {
    try {
      tx_->commit();
      tx_.reset();
    } catch (...) {
      tx_.reset();
      rethrow_pg(&broken_);
    }
  }
  void rollback() noexcept override {
    try {
      if (tx_) tx_->abort();
    } catch (...) {
    }
    tx_.reset();
  }
  bool broken() const noexcept override { return broken_ || !conn_->is_open(); }

 private:
  pqxx::result run(std::string_view sql, std::span<const Param> params) {
    try {
      const std::string& name = prepared(sql);
      params_.assign(params);
      if (tx_) return tx_->exec_prepared(name, params_.dynamic());
      pqxx::nontransaction tx(*conn_);
      return tx.exec_prepared(name, params_.dynamic());
    } catch (...) {
      rethrow_pg(&broken_);
    }
  }

  const std::string& prepared(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it != statements_.end()) return it->second;
    std::string name = "reflex_" + std::to_string(statements_.size());
    conn_->prepare(name, number_placeholders(sql));
    return statements_.emplace(std::string(sql), std::move(name)).first->second;
  }

  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::work> tx_;
  std::unordered_map<std::string, std::string> statements_;
  TextParams params_;
  bool broken_ = false;
};

/// Holes are resolved by the transaction-id horizon. The events table's id default first makes the
/// inserting transaction take an xid (pg_current_xact_id()) and only then draws the id (nextval,
/// CACHE 1). On a hole, a probe reads M = the sequence's last drawn value and then, in a later
/// statement, takes a fresh xid X of its own (xids are assigned in increasing order). Every id <= M
/// was drawn before M was read, by a transaction whose xid was assigned before that: its xid < X.
/// Once the oldest transaction still running is >= X (xmin of a fresh snapshot), every such
/// transaction has ended, so every id <= M is final: committed (and visible to any later read) or
/// never to appear. The settled horizon moves to M and the reader reads again.
class PgPolicy final : public GapPolicy {
 public:
  explicit PgPolicy(const TableContext& table)
      : gap_(table.gap),
        metrics_(table.metrics),
        last_value_sql_("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM " +
                        quote(Dialect::postgres, table.schema.table + "_id_seq")) {}

  HoleVerdict on_hole(Session& session, const Hole& hole) override {
    return {decide(session, hole.next()), hole.next()};
  }

 private:
  HoleDecision decide(Session& session, std::int64_t next) {
    auto& g = *gap_;
    std::lock_guard lock(g.mutex);
    // A pending probe may predate `next` (drawn after it): then a second, fresh probe covers it,
    // since `next` is visible and so was drawn before the fresh probe reads the sequence.
    for (int round = 0; round < 2; ++round) {
      if (next <= g.settled.load()) return HoleDecision::reread;
      if (!g.probe_pending) {
        g.probe_limit = scalar(session, last_value_sql_);
        // Not a snapshot's xmax: that is one past the newest *completed* xid, and a transaction
        // with a newer xid may still be running. A fresh xid bounds every xid assigned before.
        if (!async_commit_) {
          // Taking an xid makes this statement a committing transaction: no WAL flush wait.
          session.execute("SET synchronous_commit = off", {});
          async_commit_ = true;
        }
        g.probe_xmax = scalar(session, "SELECT pg_current_xact_id()::text::bigint");
        metrics_->on_hole_probe(0);
        g.probe_pending = true;
        g.probe_since = std::chrono::steady_clock::now();
      }
      const std::int64_t xmin =
          scalar(session, "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
      if (xmin < g.probe_xmax) return HoleDecision::block;
      g.probe_pending = false;
      if (g.probe_limit > g.settled.load()) {
        g.settled.store(g.probe_limit, std::memory_order_release);
      }
    }
    return next <= g.settled.load() ? HoleDecision::reread : HoleDecision::block;
  }

  static std::int64_t scalar(Session& session, const std::string& sql) {
    std::int64_t value = 0;
    session.query(sql, {}, [&](const Row& row) { value = row.int64(0); });
    return value;
  }

  std::shared_ptr<GapState> gap_;
  std::shared_ptr<TableMetrics> metrics_;
  std::string last_value_sql_;
  bool async_commit_ = false;
};

/// The least time between two NOTIFYs of one table object while commits come faster than one
/// NOTIFY each: bounds their cost under load (at most 200 per second), while commits that come one
/// at a time are each announced at once.
constexpr std::chrono::milliseconds kNotifySpacing{5};

/// LISTEN on one session, NOTIFY from another, each on its own thread, so a producer's poke never
/// waits for the network and never runs inside its transaction. Pokes that arrive while a NOTIFY
/// is being sent are coalesced into the next one.
class PgCrossNotifier final : public CrossNotifier {
 public:
  PgCrossNotifier(std::string conninfo, std::string redacted, std::string channel,
                  std::function<void()> on_wake)
      : conninfo_(std::move(conninfo)),
        redacted_(std::move(redacted)),
        channel_(std::move(channel)),
        on_wake_(std::move(on_wake)),
        wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    sender_ = std::jthread([this](std::stop_token stop) { send(stop); });
  }

  ~PgCrossNotifier() override {
    listener_.request_stop();
    sender_.request_stop();
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
    poke_wake_.notify_all();
    if (listener_.joinable()) listener_.join();
    sender_.join();
    ::close(wake_fd_);
  }

  void listen() override {
    std::call_once(listen_once_, [this] {
      listener_ = std::jthread([this](std::stop_token stop) { listen(stop); });
    });
  }

  void poke() noexcept override {
    bool first = false;
    {
      std::lock_guard lock(poke_mutex_);
      first = !poked_;
      poked_ = true;
      ++pokes_;
    }
    // Only the first poke wakes the sender: later ones find it busy or pausing for more, and
    // waking it per commit would cost a context switch per commit.
    if (first) poke_wake_.notify_one();
  }

  bool listening() const noexcept override { return listening_.load(); }

 private:
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& conn, const std::string& channel, PgCrossNotifier& owner)
        : pqxx::notification_receiver(conn, channel), owner_(owner) {}
    void operator()(const std::string&, int backend_pid) override {
      // Our own process's NOTIFYs: its streams were woken in-process already.
      if (backend_pid != owner_.sender_pid_.load()) owner_.on_wake_();
    }

   private:
    PgCrossNotifier& owner_;
  };

  void listen(std::stop_token stop) {
    auto backoff = std::chrono::milliseconds(100);
    while (!stop.stop_requested()) {
      try {
        pqxx::connection conn(conninfo_);
        Receiver receiver(conn, channel_, *this);
        conn.get_notifs();  // establishes the LISTEN
        listening_ = true;
        backoff = std::chrono::milliseconds(100);
        on_wake_();  // commits may have happened while we were not listening
        while (!stop.stop_requested()) {
          pollfd fds[2] = {{conn.sock(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
          const int ready = ::poll(fds, 2, 1000);
          if (ready < 0 && errno != EINTR) break;
          if (fds[1].revents) break;
          conn.get_notifs();
          if (!conn.is_open()) break;
        }
      } catch (...) {
      }
      listening_ = false;
      if (!stop.stop_requested()) {
        wait_for(stop, backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  void send(std::stop_token stop) {
    std::unique_ptr<pqxx::connection> conn;
    const std::string sql = "NOTIFY " + channel_;
    std::chrono::steady_clock::time_point last_sent{};
    std::uint64_t covered = 0;  // pokes the last NOTIFY answered
    auto backoff = std::chrono::milliseconds(100);
    // Not `while (!stop_requested())`: a producer that commits and exits at once may request
    // stop before this thread first runs, and its poke must still be sent. The wait decides.
    for (;;) {
      {
        std::unique_lock lock(poke_mutex_);
        poke_wake_.wait(lock, stop, [&] { return poked_; });
        // On stop, a pending poke is still sent: a producer that exits right after its last
        // commit must not leave other processes waiting for their next poll.
        if (!poked_) return;
        // Each NOTIFY is a server transaction and wakes every listener. When the last one
        // covered several commits, commits are coming faster than one NOTIFY each: let them
        // share one per kNotifySpacing (a stop cuts the pause short, not the send).
        if (covered > 1) {
          poke_wake_.wait_until(lock, stop, last_sent + kNotifySpacing, [] { return false; });
        }
        covered = std::exchange(pokes_, 0);
        poked_ = false;
      }
      try {
        if (!conn || !conn->is_open()) {
          conn = std::make_unique<pqxx::connection>(conninfo_);
          // A NOTIFY takes a transaction id, so its commit would wait for a WAL flush (and hold
          // the server's notify lock meanwhile), adding to the producers' fsyncs. A wake-up need
          // not be durable: the events it announces were committed before it was sent.
          pqxx::nontransaction(*conn).exec0("SET synchronous_commit = off");
          sender_pid_ = conn->backendpid();
        }
        pqxx::nontransaction tx(*conn);
        tx.exec0(sql);
        last_sent = std::chrono::steady_clock::now();
        backoff = std::chrono::milliseconds(100);
      } catch (...) {
        // The server is away: other processes fall back to polling. Retry on the next poke.
        conn.reset();
        sender_pid_ = 0;
        if (stop.stop_requested()) return;
        wait_for(stop, backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      }
    }
  }

  void wait_for(std::stop_token stop, std::chrono::milliseconds duration) {
    std::unique_lock lock(poke_mutex_);
    poke_wake_.wait_for(lock, stop, duration, [] { return false; });
  }

  std::string conninfo_;
  std::string redacted_;
  std::string channel_;
  std::function<void()> on_wake_;
  int wake_fd_;
  std::atomic<bool> listening_{false};
  std::atomic<int> sender_pid_{0};
  std::mutex poke_mutex_;
  std::condition_variable_any poke_wake_;
  bool poked_ = false;
  std::uint64_t pokes_ = 0;  // since the last NOTIFY was taken for sending
  std::once_flag listen_once_;
  std::jthread listener_;
  std::jthread sender_;
};

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
  PgDriver(std::string conninfo, std::string redacted)
      : conninfo_(std::move(conninfo)), redacted_(std::move(redacted)) {}

  Dialect dialect() const noexcept override { return Dialect::postgres; }
  const std::string& redacted_dsn() const noexcept override { return redacted_; }
  std::unique_ptr<Session> connect() override {
    return std::make_unique<PgSession>(conninfo_, redacted_);
  }
  std::string micros_expr(std::string_view column) const override {
    return "(EXTRACT(EPOCH FROM " + std::string(column) + ") * 1000000)::bigint";
  }
  std::string now_expr() const override { return "now()"; }
  std::string micros_param_expr() const override { return "to_timestamp(?::bigint / 1000000.0)"; }
  std::unique_ptr<GapPolicy> make_gap_policy(const TableContext& table) override {
    return std::make_unique<PgPolicy>(table);
  }
  std::unique_ptr<CrossNotifier> make_cross_notifier(const EventsSchema& schema,
                                                     std::function<void()> on_wake) override {
    std::string channel = "reflex_" + schema.table;
    std::transform(channel.begin(), channel.end(), channel.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::make_unique<PgCrossNotifier>(conninfo_, redacted_, std::move(channel),
                                             std::move(on_wake));
  }

 private:
  std::string conninfo_;
  std::string redacted_;
};

}  // namespace

std::shared_ptr<Driver> make_postgres_driver(const Uri& uri, const DatabaseOptions& options) {
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
  for (const auto& [key, value] : uri.query) {
    if (key == "table") continue;  // reflexctl's, not libpq's
    validate_identifier("PostgreSQL connection option", key);
    conninfo += " " + key + "=" + conninfo_value(value);
  }
  return std::make_shared<PgDriver>(std::move(conninfo), uri.redacted());
}

}  // namespace detail

// --- inserts on the caller's pqxx transaction ---------------------------------------------------

namespace {

/// Batches from this size on go by COPY: one round trip more than an INSERT, but no statement
/// to parse and no parameters to bind per row, which wins from a few dozen rows on.
constexpr std::size_t kCopyFrom = 32;

/// Inserts `events` with COPY on the caller's transaction.
void copy_events(EventsTable::Impl& t, pqxx::transaction_base& tx, std::span<const NewEvent> events,
                 bool metadata, bool trace) {
  const auto& s = t.options.schema;
  std::vector<std::string> columns = {detail::quote(Dialect::postgres, s.foreign_id_column),
                                      detail::quote(Dialect::postgres, s.type_column)};
  if (metadata) columns.push_back(detail::quote(Dialect::postgres, s.metadata_column));
  if (trace) columns.push_back(detail::quote(Dialect::postgres, s.trace_column));
  pqxx::stream_to out(tx, t.quoted_table, columns);
  for (const auto& e : events) {
    if (metadata && trace) {
      out << std::make_tuple(e.foreign_id.str(), e.type, detail::to_hex_bytea(e.metadata),
                             detail::to_hex_bytea(e.trace));
    } else if (metadata) {
      out << std::make_tuple(e.foreign_id.str(), e.type, detail::to_hex_bytea(e.metadata));
    } else if (trace) {
      out << std::make_tuple(e.foreign_id.str(), e.type, detail::to_hex_bytea(e.trace));
    } else {
      out << std::make_tuple(e.foreign_id.str(), e.type);
    }
  }
  out.complete();
}

/// A prepared statement's name derived from its text: the same text gets the same name on every
/// connection (pqxx prepares it lazily on each, and again after a reconnect), and two texts
/// practically never share one (if they did, pqxx refuses the redefinition: an error, never the
/// wrong statement).
std::string statement_name(std::string prefix, const std::string& sql) {
  static constexpr char hex[] = "0123456789abcdef";
  const std::size_t length = prefix.size() + 16;
  for (auto h = std::hash<std::string>{}(sql); prefix.size() < length; h >>= 4)
    prefix += hex[h & 15];
  return prefix;
}

/// Runs an insert on the caller's transaction, its errors as reflex's: a missing table or column
/// that PostgreSQL names as the events table's becomes a SchemaError with the DDL helper; one of
/// another table (insert_with's statement is the caller's) stays the caller's to read.
template <class Statement>
void run_insert(const EventsTable::Impl& t, Statement&& statement) {
  try {
    try {
      statement();
    } catch (...) {
      detail::rethrow_pg(nullptr);
    }
  } catch (const DatabaseError& e) {
    const std::string quoted = "\"" + t.options.schema.table + "\"";
    if (std::string_view(e.what()).find(quoted) == std::string_view::npos) throw;
    detail::rethrow_with_schema_hint(t.options.schema.table, "events_ddl", t.dialect);
  }
}

/// An event's parameters as text, in the order of EventsTable::Impl::insert_columns(false).
void event_params(const EventsTable::Impl& t, const NewEvent& e, std::vector<std::string>& out) {
  out.push_back(e.foreign_id.str());
  out.push_back(std::to_string(e.type));
  if (!t.options.schema.metadata_column.empty()) out.push_back(detail::to_hex_bytea(e.metadata));
  if (!t.options.schema.trace_column.empty()) out.push_back(detail::to_hex_bytea(e.trace));
}

Notifier insert_pg(EventsTable::Impl& t, pqxx::transaction_base& tx,
                   std::span<const NewEvent> events) {
  if (t.dialect != Dialect::postgres) {
    throw ConfigError("insert(pqxx::transaction_base&) on a " + std::string(to_string(t.dialect)) +
                      " events table: pass that database's transaction");
  }
  if (events.empty()) return t.notifier();
  for (const auto& e : events) t.check(e);
  const bool metadata = !t.options.schema.metadata_column.empty();
  const bool trace = !t.options.schema.trace_column.empty();
  if (events.size() >= kCopyFrom) {
    run_insert(t, [&] { copy_events(t, tx, events, metadata, trace); });
    return t.notifier();
  }
  const std::size_t per_row = 2 + (metadata ? 1 : 0) + (trace ? 1 : 0);
  // "INSERT INTO t (...) VALUES ($1, $2), ($3, $4), ..." for `rows` rows.
  const auto insert_sql = [&](std::size_t rows) {
    std::string sql =
        "INSERT INTO " + t.quoted_table + " (" + t.insert_columns(false) + ") VALUES ";
    int n = 0;
    for (std::size_t i = 0; i < rows; ++i) {
      sql += i ? ", (" : "(";
      for (std::size_t c = 0; c < per_row; ++c) {
        if (c) sql += ", ";
        sql += '$';
        sql += std::to_string(++n);
      }
      sql += ')';
    }
    return sql;
  };
  std::vector<std::string> storage;
  storage.reserve(events.size() * per_row);
  for (const auto& e : events) event_params(t, e, storage);
  std::vector<const char*> pointers;
  pointers.reserve(storage.size());
  for (const auto& value : storage) pointers.push_back(value.c_str());
  if (events.size() == 1) {
    // The producer's hot path: a statement prepared once per connection, its text and name built
    // once per table (the name derives from the text, so tables and schemas never collide; pqxx
    // prepares it lazily on each connection and again after a reconnect).
    const auto& one = t.single_insert([&] {
      EventsTable::Impl::SingleInsert built{.sql = insert_sql(1), .name = {}};
      built.name = statement_name("reflex_insert_", built.sql);
      return built;
    });
    run_insert(t, [&] {
      tx.conn().prepare(one.name, one.sql);
      tx.exec_prepared(one.name, pqxx::prepare::make_dynamic_params(pointers));
    });
  } else {
    const std::string sql = insert_sql(events.size());
    run_insert(t, [&] { tx.exec_params(sql, pqxx::prepare::make_dynamic_params(pointers)); });
  }
  return t.notifier();
}

/// The highest $N `sql` uses outside literals, quoted identifiers and comments (0: none).
std::size_t highest_parameter(std::string_view sql) {
  std::size_t highest = 0;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    std::size_t end = i;
    if (c == '\'' || c == '"') {  // a doubled quote inside reads as two literals: same result
      end = sql.find(c, i + 1);
    } else if (c == '-' && sql.substr(i, 2) == "--") {
      end = sql.find('\n', i);
    } else if (c == '/' && sql.substr(i, 2) == "/*") {
      end = sql.find("*/", i + 2);
      if (end != std::string_view::npos) ++end;
    } else if (c == '$' && i + 1 < sql.size() && digit(sql[i + 1])) {
      std::size_t n = 0;
      for (end = i + 1; end < sql.size() && digit(sql[end]); ++end) {
        n = std::min<std::size_t>(n * 10 + static_cast<std::size_t>(sql[end] - '0'), 1u << 20);
      }
      highest = std::max(highest, n);
      --end;
    } else if (c == '$') {  // a dollar-quoted string: $tag$ … $tag$
      const auto close = sql.find('$', i + 1);
      if (close != std::string_view::npos) {
        const auto tag = sql.substr(i, close - i + 1);
        const bool is_tag = std::all_of(tag.begin() + 1, tag.end() - 1, [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
        });
        if (is_tag) {
          end = sql.find(tag, close + 1);
          if (end != std::string_view::npos) end += tag.size() - 1;
        }
      }
    }
    if (end == std::string_view::npos) break;
    i = end;
  }
  return highest;
}

}  // namespace

Notifier EventsTable::insert_with(pqxx::transaction_base& transaction, std::string_view statement,
                                  const std::vector<std::optional<std::string>>& params,
                                  const NewEvent& event) const {
  auto& t = *impl_;
  if (t.dialect != Dialect::postgres) {
    throw ConfigError("insert_with() is for PostgreSQL (a data-modifying WITH); on " +
                      std::string(to_string(t.dialect)) + " run the statement, then insert()");
  }
  t.check(event);
  while (!statement.empty() &&
         (std::isspace(static_cast<unsigned char>(statement.back())) || statement.back() == ';')) {
    statement.remove_suffix(1);
  }
  const auto start = statement.find_first_not_of(" \t\r\n(");
  std::string keyword;
  for (auto i = start;
       i < statement.size() && std::isalpha(static_cast<unsigned char>(statement[i])); ++i) {
    keyword += static_cast<char>(std::tolower(static_cast<unsigned char>(statement[i])));
  }
  if (keyword != "insert" && keyword != "update" && keyword != "delete" && keyword != "with") {
    throw ConfigError(
        "insert_with() takes the change the event belongs to: an INSERT, UPDATE, "
        "DELETE or WITH statement, not \"" +
        std::string(statement.substr(0, 40)) + "\"");
  }
  const std::size_t used = highest_parameter(statement);
  if (used > params.size()) {
    throw ConfigError("insert_with(): the statement uses $" + std::to_string(used) + " but " +
                      std::to_string(params.size()) +
                      " parameters were given (the event's own follow them)");
  }
  std::vector<std::string> values;
  event_params(t, event, values);
  // The newline ends a trailing `--` comment of the statement before our parenthesis.
  std::string sql = "WITH reflex_change AS (" + std::string(statement) + "\n) INSERT INTO " +
                    t.quoted_table + " (" + t.insert_columns(false) + ") VALUES (";
  for (std::size_t i = 0; i < values.size(); ++i) {
    sql += (i ? ", $" : "$") + std::to_string(params.size() + i + 1);
  }
  sql += ')';
  std::vector<const char*> pointers;
  pointers.reserve(params.size() + values.size());
  for (const auto& p : params) pointers.push_back(p ? p->c_str() : nullptr);
  for (const auto& v : values) pointers.push_back(v.c_str());
  // Prepared once per connection and statement, as a service's own statements are.
  const std::string name = statement_name("reflex_with_", sql);
  run_insert(t, [&] {
    transaction.conn().prepare(name, sql);
    transaction.exec_prepared(name, pqxx::prepare::make_dynamic_params(pointers));
  });
  return t.notifier();
}

Notifier EventsTable::insert(pqxx::transaction_base& transaction, const NewEvent& event) const {
  return insert_pg(*impl_, transaction, std::span<const NewEvent>(&event, 1));
}

Notifier EventsTable::insert_batch(pqxx::transaction_base& transaction,
                                   std::span<const NewEvent> events) const {
  return insert_pg(*impl_, transaction, events);
}

}  // namespace reflex::rsql
