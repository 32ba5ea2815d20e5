#pragma once
// PostgreSQL facts a test can wait for. Header-only and for tests that link reflex::rsql built
// with PostgreSQL: the support library itself does not depend on rsql.

#include <algorithm>
#include <cctype>
#include <string>

#include "reflex/errors.hpp"
#include "reflex/rsql/database.hpp"

namespace reflex_test {

/// rsql's channel of the cross-process wake-ups of events table `table`: "reflex_<table>", lower
/// case.
inline std::string pg_channel(std::string table) {
  std::transform(table.begin(), table.end(), table.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return "reflex_" + table;
}

/// A condition on pg_stat_activity: the sessions idle after announcing themselves as listeners of
/// `table` to senders (their last statement says pg_notify('reflex_listeners', '<channel>')), so
/// that their LISTEN is in effect.
inline std::string pg_listener_condition(const std::string& table) {
  return "state = 'idle' AND position('pg_notify(''reflex_listeners'', ''" + pg_channel(table) +
         "'')' in query) > 0";
}

/// True once some session on `db`'s server LISTENs for the cross-process wake-ups of events table
/// `table` (pg_listener_condition): a commit from then on reaches the listening process without
/// waiting for a poll. One query (pg_stat_activity); poll it with eventually(). Other errors of
/// the query are thrown.
inline bool pg_listening(const reflex::rsql::Database& db, const std::string& table) {
  // Database::execute runs statements without results: the DO block fails while no session
  // listens, and the failure is the answer.
  try {
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE " +
               pg_listener_condition(table) +
               ") THEN RAISE EXCEPTION 'not listening'; END IF; END $$");
    return true;
  } catch (const reflex::Error& e) {
    if (std::string(e.what()).find("not listening") == std::string::npos) throw;
    return false;
  }
}

}  // namespace reflex_test
