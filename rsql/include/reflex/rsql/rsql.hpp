#pragma once

/// reflex::rsql: the transactional outbox on PostgreSQL, MariaDB/MySQL and SQLite.
#include "reflex/rsql/cursors_table.hpp"
#include "reflex/rsql/database.hpp"
#include "reflex/rsql/errors.hpp"
#include "reflex/rsql/errors_table.hpp"
#include "reflex/rsql/events_table.hpp"
#include "reflex/rsql/inbox.hpp"
#include "reflex/rsql/schema.hpp"
#include "reflex/rsql/shards_table.hpp"
#include "reflex/rsql/transactional_cursors.hpp"
