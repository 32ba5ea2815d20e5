// ShardsTable: shard leases with fencing tokens in SQL. Each operation is one conditional
// statement (and a read back where the caller needs the row), the same SQL on every dialect but
// for "now in microseconds" and insert-if-missing.
#include "reflex/rsql/shards_table.hpp"

#include <algorithm>

#include "access.hpp"
#include "cursor_order.hpp"
#include "reflex/errors.hpp"
#include "reflex/rsql/errors.hpp"
#include "session_pool.hpp"
#include "sql_text.hpp"

namespace reflex::rsql {

namespace {

using detail::Param;
using rpatterns::ShardState;

/// The DDL helpers a missing table is pointed to.
constexpr std::string_view kDdlHelper = "shards_ddl() or Database::create_shards_tables";

std::int64_t micros(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

/// A shard number or a token as a BIGINT parameter.
std::int64_t as_param(std::uint64_t n) {
  return static_cast<std::int64_t>(n);
}

/// "INSERT … if the key is free" in each dialect.
std::string insert_ignore(Dialect dialect, const std::string& into_values) {
  switch (dialect) {
    case Dialect::postgres:
      return "INSERT INTO " + into_values + " ON CONFLICT DO NOTHING";
    case Dialect::mysql:
      return "INSERT IGNORE INTO " + into_values;
    case Dialect::sqlite:
      return "INSERT OR IGNORE INTO " + into_values;
  }
  return {};
}

ShardState state_of(const detail::Row& row, std::size_t shard, int first) {
  return ShardState{.shard = shard,
                    .owner = std::string(row.text(first)),
                    .token = static_cast<std::uint64_t>(row.int64(first + 1)),
                    .expires = std::chrono::system_clock::time_point(
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(
                            std::chrono::microseconds(row.int64(first + 2)))),
                    .cursor = std::string(row.text(first + 3))};
}

}  // namespace

struct ShardsTable::Impl {
  Impl(std::shared_ptr<Database> db, ShardsSchema s)
      : database(std::move(db)),
        schema(std::move(s)),
        dialect(database->dialect()),
        pool(detail::Access::driver(database)) {
    validate(schema);
    const auto q = [&](std::string_view name) { return detail::quote(dialect, name); };
    const std::string shards = q(schema.table);
    const std::string members = q(schema.members_table);
    const std::string consumer = q("consumer"), shard = q("shard"), owner = q("owner"),
                      token = q("token"), expires = q("expires_at"), cursor = q("cursor"),
                      updated = q("updated_at"), member = q("member");
    const auto& driver = pool.driver();
    // Now by the database's clock, in microseconds: the one clock every member agrees on.
    const std::string now = "(" + driver.micros_expr(driver.now_expr()) + ")";
    const std::string updated_now = updated + " = " + driver.now_expr();
    const std::string row = " WHERE " + consumer + " = ? AND " + shard + " = ?";
    const std::string held = row + " AND " + token + " = ?";

    insert_row =
        insert_ignore(dialect, shards + " (" + consumer + ", " + shard + ") VALUES (?, ?)");
    take = "UPDATE " + shards + " SET " + owner + " = ?, " + token + " = " + token + " + 1, " +
           expires + " = " + now + " + ?, " + updated_now + row + " AND (" + owner + " = '' OR " +
           owner + " = ? OR " + expires + " < " + now + ")";
    select_row =
        "SELECT " + owner + ", " + token + ", " + expires + ", " + cursor + " FROM " + shards + row;
    select_all = "SELECT " + shard + ", " + owner + ", " + token + ", " + expires + ", " + cursor +
                 " FROM " + shards + " WHERE " + consumer + " = ? ORDER BY " + shard;
    select_groups = "SELECT DISTINCT " + consumer + " FROM " + shards;
    extend = "UPDATE " + shards + " SET " + expires + " = " + now + " + ?" + held + " AND " +
             owner + " <> ''";
    free =
        "UPDATE " + shards + " SET " + owner + " = '', " + expires + " = 0, " + updated_now + held;
    write_forward = "UPDATE " + shards + " SET " + cursor + " = ?, " + updated_now + held +
                    " AND " + owner + " <> '' AND " + detail::forward_condition(cursor);
    write_any = "UPDATE " + shards + " SET " + cursor + " = ?, " + updated_now + held + " AND " +
                owner + " <> ''";
    write_forced = "UPDATE " + shards + " SET " + cursor + " = ?, " + updated_now + row;
    beat = "UPDATE " + members + " SET " + expires + " = " + now + " + ? WHERE " + consumer +
           " = ? AND " + member + " = ?";
    join = insert_ignore(dialect, members + " (" + consumer + ", " + member + ", " + expires +
                                      ") VALUES (?, ?, " + now + " + ?)");
    live = "SELECT " + member + " FROM " + members + " WHERE " + consumer + " = ? AND " + expires +
           " >= " + now;
    // Members gone for long are forgotten (a crashed process never leaves).
    forget = "DELETE FROM " + members + " WHERE " + consumer + " = ? AND " + expires + " < " + now +
             " - ?";
    leave = "DELETE FROM " + members + " WHERE " + consumer + " = ? AND " + member + " = ?";
  }

  template <class Fn>
  auto with_session(Fn&& fn) {
    return detail::with_table_session(pool, schema.table, kDdlHelper, dialect,
                                      std::forward<Fn>(fn));
  }

  std::optional<ShardState> read(detail::Session& session, std::string_view group,
                                 std::size_t shard) {
    std::optional<ShardState> out;
    const Param params[] = {group, as_param(shard)};
    session.query(select_row, params, [&](const detail::Row& r) { out = state_of(r, shard, 0); });
    return out;
  }

  /// Names shard `shard` of `group` in messages: "<group>#<shard>" (the store does not know the
  /// shard count of the consumer names).
  static std::string name_of(std::string_view group, std::size_t shard) {
    return std::string(group) + "#" + std::to_string(shard);
  }

  std::shared_ptr<Database> database;
  ShardsSchema schema;
  Dialect dialect;
  detail::SessionPool pool;
  std::string insert_row, take, select_row, select_all, select_groups, extend, free, write_forward,
      write_any, write_forced, beat, join, live, forget, leave;
};

ShardsTable::ShardsTable(std::shared_ptr<Database> database, ShardsTableOptions options) {
  if (!database) throw ConfigError("ShardsTable needs a database (rsql::Database::open)");
  impl_ = std::make_unique<Impl>(std::move(database), std::move(options.schema));
}

ShardsTable::~ShardsTable() = default;

std::vector<std::string> ShardsTable::heartbeat(std::string_view group, std::string_view member,
                                                std::chrono::milliseconds ttl) {
  auto& i = *impl_;
  return detail::with_table_session(
      i.pool, i.schema.members_table, kDdlHelper, i.dialect, [&](detail::Session& session) {
        const Param beat[] = {micros(ttl), group, member};
        if (session.execute(i.beat, beat) == 0) {
          // New, or (MariaDB counts changed rows only) renewed within the same microsecond.
          const Param join[] = {group, member, micros(ttl)};
          session.execute(i.join, join);
        }
        const Param forget[] = {group, micros(ttl) * 100};
        session.execute(i.forget, forget);
        std::vector<std::string> members;
        const Param live[] = {group};
        session.query(i.live, live,
                      [&](const detail::Row& row) { members.emplace_back(row.text(0)); });
        if (std::find(members.begin(), members.end(), member) == members.end()) {
          members.emplace_back(member);
        }
        // Sorted here, byte-wise, not by the database's collation: every member must compute
        // the same share from the same list.
        std::sort(members.begin(), members.end());
        return members;
      });
}

void ShardsTable::leave(std::string_view group, std::string_view member) {
  auto& i = *impl_;
  detail::with_table_session(i.pool, i.schema.members_table, kDdlHelper, i.dialect,
                             [&](detail::Session& session) {
                               const Param params[] = {group, member};
                               return session.execute(i.leave, params);
                             });
}

std::optional<ShardState> ShardsTable::acquire(std::string_view group, std::size_t shard,
                                               std::string_view member,
                                               std::chrono::milliseconds ttl) {
  auto& i = *impl_;
  return i.with_session([&](detail::Session& session) -> std::optional<ShardState> {
    const Param row[] = {group, as_param(shard)};
    session.execute(i.insert_row, row);
    const Param take[] = {member, micros(ttl), group, as_param(shard), member};
    if (session.execute(i.take, take) == 0) return std::nullopt;
    auto state = i.read(session, group, shard);
    // Only a lease shorter than this round trip could have passed on meanwhile.
    if (!state || state->owner != member) return std::nullopt;
    return state;
  });
}

bool ShardsTable::renew(std::string_view group, std::size_t shard, std::uint64_t token,
                        std::chrono::milliseconds ttl) {
  auto& i = *impl_;
  return i.with_session([&](detail::Session& session) {
    const Param params[] = {micros(ttl), group, as_param(shard), as_param(token)};
    if (session.execute(i.extend, params) > 0) return true;
    // MariaDB reports no row when the value did not change (a renewal in the same microsecond).
    const auto state = i.read(session, group, shard);
    return state && state->token == token && !state->owner.empty() && i.dialect == Dialect::mysql;
  });
}

void ShardsTable::release(std::string_view group, std::size_t shard, std::uint64_t token) {
  auto& i = *impl_;
  i.with_session([&](detail::Session& session) {
    const Param params[] = {group, as_param(shard), as_param(token)};
    return session.execute(i.free, params);
  });
}

void ShardsTable::write_cursor(std::string_view group, std::size_t shard, std::uint64_t token,
                               std::string_view cursor) {
  auto& i = *impl_;
  i.with_session([&](detail::Session& session) {
    const bool number = detail::is_number(cursor);
    const auto length = static_cast<std::int64_t>(cursor.size());
    if (number) {
      const Param params[] = {cursor, group,  as_param(shard), as_param(token),
                              length, length, cursor};
      if (session.execute(i.write_forward, params) > 0) return 0;
    } else {
      const Param params[] = {cursor, group, as_param(shard), as_param(token)};
      if (session.execute(i.write_any, params) > 0) return 0;
    }
    const auto state = i.read(session, group, shard);
    if (!state || state->token != token || state->owner.empty()) {
      throw CursorConflict::fenced_out(
          Impl::name_of(group, shard), token, std::string(cursor),
          describe() + (state && !state->owner.empty()
                            ? ", now held by \"" + state->owner + "\" with token " +
                                  std::to_string(state->token)
                            : std::string()));
    }
    if (state->cursor == cursor) return 0;
    if (number && detail::is_number(state->cursor) && detail::number_less(cursor, state->cursor)) {
      throw CursorConflict(Impl::name_of(group, shard), state->cursor, std::string(cursor),
                           describe());
    }
    if (number && !detail::is_number(state->cursor)) {
      // Only numbers are ordered: a number replaces a cursor that is none (an operator's force).
      const Param params[] = {cursor, group, as_param(shard), as_param(token)};
      session.execute(i.write_any, params);
    }
    return 0;
  });
}

void ShardsTable::force_cursor(std::string_view group, std::size_t shard, std::string_view cursor) {
  auto& i = *impl_;
  i.with_session([&](detail::Session& session) {
    const Param row[] = {group, as_param(shard)};
    session.execute(i.insert_row, row);
    const Param params[] = {cursor, group, as_param(shard)};
    return session.execute(i.write_forced, params);
  });
}

std::vector<ShardState> ShardsTable::list(std::string_view group) {
  auto& i = *impl_;
  return i.with_session([&](detail::Session& session) {
    std::vector<ShardState> out;
    const Param params[] = {group};
    session.query(i.select_all, params, [&](const detail::Row& row) {
      out.push_back(state_of(row, static_cast<std::size_t>(row.int64(0)), 1));
    });
    return out;
  });
}

std::vector<std::string> ShardsTable::groups() {
  auto& i = *impl_;
  return i.with_session([&](detail::Session& session) {
    std::vector<std::string> out;
    session.query(i.select_groups, {},
                  [&](const detail::Row& row) { out.emplace_back(row.text(0)); });
    std::sort(out.begin(), out.end());
    return out;
  });
}

std::string ShardsTable::describe() const {
  return "table '" + impl_->schema.table + "'";
}

}  // namespace reflex::rsql
