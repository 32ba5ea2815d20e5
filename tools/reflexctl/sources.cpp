#include "sources.hpp"

#include "reflex/errors.hpp"
#include "reflex/uri.hpp"
#if defined(REFLEXCTL_WITH_GRPC)
#include "reflex/rgrpc/client.hpp"
#endif
#if defined(REFLEXCTL_WITH_NATS)
#include "reflex/rnats/rnats.hpp"
#endif

namespace reflexctl {
namespace {

std::string table_of(const reflex::Uri& uri, std::string_view what) {
  const std::string table = uri.required_param(
      "table", std::string("name the ") + std::string(what) + " table, e.g. ?table=events");
  reflex::rsql::validate_identifier(std::string(what) + " table", table);
  return table;
}

/// The database of an SQL source or store: `?table=` is reflexctl's, not the driver's.
std::shared_ptr<reflex::rsql::Database> database_of(reflex::Uri uri) {
  uri.remove_param("table");
  return reflex::rsql::Database::open(uri.str());
}

#if defined(REFLEXCTL_WITH_NATS)
reflex::rnats::Connection nats_connection(const reflex::Uri& uri) {
  std::string url = "nats://";
  if (!uri.user.empty()) {
    url += uri.user;
    if (uri.password) url += ":" + *uri.password;
    url += "@";
  }
  url += uri.host + ":" + std::to_string(uri.port.value_or(4222));
  return reflex::rnats::Connection({.url = url, .name = "reflexctl"});
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

reflex::rsql::EventsTable open_events_table(std::string_view text,
                                            std::shared_ptr<reflex::MetricsObserver> metrics) {
  const auto uri = reflex::parse_uri(text);
  const std::string table = table_of(uri, "events");
  return reflex::rsql::EventsTable(database_of(uri),
                                   {.schema = {.table = table}, .metrics = std::move(metrics)});
}

reflex::StreamFunc open_source(std::string_view text,
                               std::shared_ptr<reflex::MetricsObserver> metrics) {
  if (is_sql(text)) return open_events_table(text, std::move(metrics)).stream_func();
  const auto uri = reflex::parse_uri(text);
  if (uri.scheme == "grpc" || uri.scheme == "grpcs") {
#if defined(REFLEXCTL_WITH_GRPC)
    return reflex::rgrpc::stream_func(reflex::rgrpc::client_options_from_uri(text));
#else
    throw reflex::ConfigError("this reflexctl was built without gRPC support");
#endif
  }
  if (uri.scheme == "nats") {
#if defined(REFLEXCTL_WITH_NATS)
    uri.check_params({"stream", "subject"});
    const std::string stream =
        uri.required_param("stream", "name the JetStream stream, e.g. ?stream=ORDERS");
    return reflex::rnats::stream_func(
        nats_connection(uri),
        {.stream = stream, .filter_subject = uri.param("subject").value_or("")});
#else
    throw reflex::ConfigError("this reflexctl was built without NATS support");
#endif
  }
  throw reflex::ConfigError(
      "unknown source scheme '" + uri.scheme + "' in " + uri.redacted() +
      ": use postgresql://, mysql://, sqlite:///, grpc://, grpcs:// or nats://");
}

std::shared_ptr<reflex::CursorStore> open_cursor_store(std::string_view text, bool create) {
  if (is_sql(text)) {
    const auto uri = reflex::parse_uri(text);
    const std::string table = table_of(uri, "cursors");
    return std::make_shared<reflex::rsql::CursorsTable>(
        database_of(uri),
        reflex::rsql::CursorsTableOptions{.schema = {.table = table}, .flush_interval = {}});
  }
  const auto uri = reflex::parse_uri(text);
  if (uri.scheme == "nats") {
#if defined(REFLEXCTL_WITH_NATS)
    uri.check_params({"bucket"});
    const std::string bucket =
        uri.required_param("bucket", "name the KV bucket, e.g. ?bucket=cursors");
    const reflex::rnats::KvCursorStoreOptions options{.flush_interval = {}};
    const auto connection = nats_connection(uri);
    if (create) return std::make_shared<reflex::rnats::KvCursorStore>(connection, bucket, options);
    try {
      return std::make_shared<reflex::rnats::KvCursorStore>(
          reflex::rnats::StateStore::open(connection, bucket), options);
    } catch (const reflex::rnats::NotFound&) {
      throw reflex::ConfigError("no KV bucket \"" + bucket + "\" at " + uri.redacted() +
                                ": check ?bucket= (backfill and relay create it on first use)");
    }
#else
    throw reflex::ConfigError("this reflexctl was built without NATS support");
#endif
  }
  throw reflex::ConfigError("unknown cursor store scheme '" + uri.scheme + "' in " +
                            uri.redacted() +
                            ": use an SQL DSN with ?table=CURSORS or nats://HOST:PORT?bucket=B");
}

}  // namespace reflexctl
