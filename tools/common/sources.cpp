// Sources and cursor stores by URI (see sources.hpp).

#include "sources.hpp"

#include <chrono>
#include <exception>
#include <type_traits>

#include "errors.hpp"
#include "reflex/encoding.hpp"
#include "reflex/errors.hpp"
#if defined(REFLEX_TOOLS_WITH_GRPC)
#include "reflex/rgrpc/client.hpp"
#endif
#if defined(REFLEX_TOOLS_WITH_NATS)
#include "reflex/rnats/rnats.hpp"
#endif

namespace reflex_tools {
namespace {

/// An SQL DSN with reflexctl's `?table=T`: the table's name (validated) and the database of the
/// DSN without it.
struct SqlTable {
  std::shared_ptr<reflex::rsql::Database> database;
  std::string table;
};

SqlTable open_sql_table(std::string_view text, std::string_view what, Access access) {
  auto uri = reflex::parse_uri(text);
  const std::string name(what);
  std::string table =
      uri.required_param("table", "name the " + name + " table, e.g. ?table=" + name);
  reflex::rsql::validate_identifier(name + " table", table);
  uri.remove_param("table");
  std::string primary = uri.param("primary").value_or("");
  uri.remove_param("primary");
  return {.database = reflex::rsql::Database::open(
              uri.str(), {.create_missing = access == Access::write, .primary_dsn = primary}),
          .table = std::move(table)};
}

bool is_postgres(std::string_view uri) {
  return uri.starts_with("postgresql://") || uri.starts_with("postgres://");
}

#if defined(REFLEX_TOOLS_WITH_NATS)
/// The stream a NATS source address names (`?stream=S`, optionally `&subject=X`).
std::string nats_stream_of(const NatsAddress& address) {
  address.uri.check_params({"stream", "subject"});
  return address.uri.required_param("stream", "name the JetStream stream, e.g. ?stream=ORDERS");
}
#endif

}  // namespace

bool is_sql(std::string_view uri) {
  for (std::string_view scheme :
       {"postgresql://", "postgres://", "mysql://", "mariadb://", "sqlite://"}) {
    if (uri.starts_with(scheme)) return true;
  }
  return false;
}

bool is_nats(std::string_view uri) {
  return uri.starts_with("nats://") || uri.starts_with("tls://");
}

#if defined(REFLEX_TOOLS_WITH_NATS)
NatsAddress parse_nats_address(std::string_view text) {
  const auto query = text.find('?');
  NatsAddress address{.servers = std::string(text.substr(0, query)), .uri = {}};
  const auto first = address.servers.find(',');
  std::string first_with_query = address.servers.substr(0, first);
  if (query != std::string_view::npos) first_with_query += text.substr(query);
  address.uri = reflex::parse_uri(first_with_query);
  return address;
}

reflex::rnats::Connection connect_nats(const NatsAddress& address, const std::string& name) {
  return reflex::rnats::Connection({.url = address.servers, .name = name});
}
#endif

reflex::rsql::EventsTable open_events_table(std::string_view text, Access access,
                                            std::shared_ptr<reflex::MetricsObserver> metrics) {
  auto [database, table] = open_sql_table(text, "events", access);
  return reflex::rsql::EventsTable(std::move(database),
                                   {.schema = {.table = table}, .metrics = std::move(metrics)});
}

reflex::StreamFunc open_source(std::string_view text,
                               std::shared_ptr<reflex::MetricsObserver> metrics) {
  if (is_sql(text)) return open_events_table(text, Access::read, std::move(metrics)).stream_func();
  if (is_nats(text)) {
#if defined(REFLEX_TOOLS_WITH_NATS)
    const auto address = parse_nats_address(text);
    const std::string stream = nats_stream_of(address);
    return reflex::rnats::stream_func(
        connect_nats(address),
        {.stream = stream, .filter_subject = address.uri.param("subject").value_or("")});
#else
    throw reflex::ConfigError("this " + program_name() + " was built without NATS support");
#endif
  }
  const auto uri = reflex::parse_uri(text);
  if (uri.scheme == "grpc" || uri.scheme == "grpcs") {
#if defined(REFLEX_TOOLS_WITH_GRPC)
    return reflex::rgrpc::stream_func(reflex::rgrpc::client_options_from_uri(text));
#else
    throw reflex::ConfigError("this " + program_name() + " was built without gRPC support");
#endif
  }
  throw reflex::ConfigError(
      "unknown source scheme '" + uri.scheme + "' in " + uri.redacted() +
      ": use postgresql://, mysql://, sqlite:///, grpc://, grpcs://, nats:// or tls://");
}

std::shared_ptr<reflex::CursorStore> open_cursor_store(std::string_view text, CursorStoreUse use) {
  const std::chrono::milliseconds flush_interval =
      use.buffered ? std::chrono::seconds(1) : std::chrono::milliseconds(0);
  if (is_sql(text)) {
    auto [database, table] =
        open_sql_table(text, "cursors", use.create ? Access::write : Access::read);
    return std::make_shared<reflex::rsql::CursorsTable>(
        std::move(database), reflex::rsql::CursorsTableOptions{.schema = {.table = table},
                                                               .flush_interval = flush_interval});
  }
  if (is_nats(text)) {
#if defined(REFLEX_TOOLS_WITH_NATS)
    const auto address = parse_nats_address(text);
    address.uri.check_params({"bucket"});
    const std::string bucket =
        address.uri.required_param("bucket", "name the KV bucket, e.g. ?bucket=cursors");
    const reflex::rnats::KvCursorStoreOptions options{.flush_interval = flush_interval};
    const auto connection = connect_nats(address);
    if (use.create) {
      return std::make_shared<reflex::rnats::KvCursorStore>(connection, bucket, options);
    }
    try {
      return std::make_shared<reflex::rnats::KvCursorStore>(
          reflex::rnats::StateStore::open(connection, bucket), options);
    } catch (const reflex::rnats::NotFound&) {
      throw reflex::ConfigError("no KV bucket \"" + bucket + "\" at " + address.uri.redacted() +
                                ": check ?bucket= (backfill and relay create it on first use)");
    }
#else
    throw reflex::ConfigError("this " + program_name() + " was built without NATS support");
#endif
  }
  const auto uri = reflex::parse_uri(text);
  throw reflex::ConfigError("unknown cursor store scheme '" + uri.scheme + "' in " +
                            uri.redacted() +
                            ": use an SQL DSN with ?table=CURSORS or nats://HOST:PORT?bucket=B");
}

JobCursorStore::JobCursorStore(std::string uri, CursorStoreUse use)
    : shown_(shown(uri)), store_(open_cursor_store(uri, use)) {}

template <class F>
auto JobCursorStore::guarded(F&& f) -> std::invoke_result_t<F&> {
  try {
    return f();
  } catch (const std::exception& e) {
    std::throw_with_nested(CursorStoreFailure(shown_, one_line(e.what()), reflex::is_retryable(e)));
  }
}

std::string JobCursorStore::get(std::string_view name) {
  return guarded([&] { return store_->get(name); });
}

void JobCursorStore::set(std::string_view name, std::string_view cursor) {
  guarded([&] { store_->set(name, cursor); });
}

void JobCursorStore::flush() {
  guarded([&] { store_->flush(); });
}

void JobCursorStore::check(std::string_view name) {
  guarded([&] {
    if (auto* buffered = dynamic_cast<reflex::BufferedCursorStore*>(store_.get())) {
      (void)buffered->storage().read(name);  // get() may answer from memory
    } else {
      (void)store_->get(name);
    }
  });
}

HeadFunc open_head(std::string_view text) {
  if (is_sql(text)) {
    return [table = open_events_table(text, Access::read)]() -> std::optional<std::int64_t> {
      return reflex::parse_int64(table.head());
    };
  }
#if defined(REFLEX_TOOLS_WITH_NATS)
  if (is_nats(text)) {
    const auto address = parse_nats_address(text);
    return [connection = connect_nats(address),
            stream = nats_stream_of(address)]() -> std::optional<std::int64_t> {
      const auto info = reflex::rnats::stream_info(connection, stream);
      if (!info) {
        throw reflex::rnats::NotFound("JetStream stream \"" + stream + "\" does not exist");
      }
      if (info->last_sequence == 0) return std::nullopt;
      return static_cast<std::int64_t>(info->last_sequence);
    };
  }
#endif
  return {};
}

std::string with_primary(std::string uri, std::string_view primary) {
  if (primary.empty()) return uri;
  if (!is_postgres(uri) || !is_postgres(primary)) {
    throw UsageError(
        "--primary names the primary of a PostgreSQL standby: both it and the "
        "source must be postgresql:// DSNs");
  }
  if (reflex::parse_uri(uri).param("primary")) {
    throw UsageError("the source names its primary twice: with ?primary= and with --primary");
  }
  uri += uri.find('?') == std::string::npos ? '?' : '&';
  return uri + "primary=" + reflex::percent_encode(primary);
}

std::string shown(std::string_view text) {
  try {
    if (is_postgres(text)) {
      // The primary's DSN rides in a parameter: its password must be masked too.
      auto uri = reflex::parse_uri(text);
      if (const auto primary = uri.param("primary")) {
        uri.remove_param("primary");
        return uri.redacted() + " (primary " + reflex::parse_uri(*primary).redacted() + ")";
      }
    }
    if (is_nats(text)) {
      // Several servers, each with its own credentials: mask every one of them.
      const auto query = text.find('?');
      std::string out;
      std::string_view servers = text.substr(0, query);
      while (!servers.empty()) {
        const auto comma = servers.find(',');
        if (!out.empty()) out += ',';
        out += reflex::parse_uri(servers.substr(0, comma)).redacted();
        servers = comma == std::string_view::npos ? "" : servers.substr(comma + 1);
      }
      if (query != std::string_view::npos) out += text.substr(query);
      return out;
    }
    return reflex::parse_uri(text).redacted();
  } catch (const std::exception&) {
    return "the source";  // unparsable: never shown raw, it may hold a password
  }
}

}  // namespace reflex_tools
