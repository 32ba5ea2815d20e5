#pragma once
// PostgreSQL facts a test can wait for. Header-only and for tests that link reflex::rsql built
// with PostgreSQL: the support library itself does not depend on rsql.

#include <algorithm>
#include <cctype>
#include <string>

#include "reflex/errors.hpp"
#include "reflex/rsql/database.hpp"

namespace reflex_test {

/// True once some session on `db`'s server LISTENs for the cross-process wake-ups of events table
/// `table` (rsql's channel "reflex_<table>") and is idle after announcing itself to senders (its
/// last statement, pg_notify('reflex_listeners', '<channel>')), so that LISTEN is in effect: a
/// commit from then on reaches the listening process without waiting for a poll. One query
/// (pg_stat_activity); poll it with eventually(). Other errors of the query are thrown.
inline bool pg_listening(const reflex::rsql::Database& db, const std::string& table) {
  std::string channel = "reflex_" + table;
  std::transform(channel.begin(), channel.end(), channel.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Database::execute runs statements without results: the DO block fails while no session
  // listens, and the failure is the answer.
  try {
    db.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE state = 'idle' AND "
        "position('pg_notify(''reflex_listeners'', ''" +
        channel + "'')' in query) > 0) THEN RAISE EXCEPTION 'not listening'; END IF; END $$");
    return true;
  } catch (const reflex::Error& e) {
    if (std::string(e.what()).find("not listening") == std::string::npos) throw;
    return false;
  }
}

}  // namespace reflex_test
