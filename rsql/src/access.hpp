#pragma once
// How rsql's own sources reach the internals of its public classes (the driver of a Database,
// the state of an EventsTable) without putting them in the public API: each public class
// befriends detail::Access, declared there and defined only here, in a header that is not
// installed (libpqxx's "call gate").

#include <memory>

#include "driver.hpp"
#include "events_table_impl.hpp"
#include "inbox_impl.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/inbox.hpp"

namespace reflex::rsql::detail {

struct Access final {
  /// The database's driver, kept alive by the returned pointer together with the database.
  [[nodiscard]] static std::shared_ptr<Driver> driver(const std::shared_ptr<Database>& database) {
    return {database, database->driver_.get()};
  }
  [[nodiscard]] static Driver& driver(const Database& database) noexcept {
    return *database.driver_;
  }
  [[nodiscard]] static std::shared_ptr<Database> make_database(std::shared_ptr<Driver> driver) {
    return std::shared_ptr<Database>(new Database(std::move(driver)));
  }
  [[nodiscard]] static EventsTableImpl& impl(const EventsTable& table) noexcept {
    return *table.impl_;
  }
  [[nodiscard]] static InboxImpl& impl(const Inbox& inbox) noexcept { return *inbox.impl_; }
  [[nodiscard]] static const std::shared_ptr<EventsTableImpl>& impl_ptr(
      const EventsTable& table) noexcept {
    return table.impl_;
  }
};

}  // namespace reflex::rsql::detail
