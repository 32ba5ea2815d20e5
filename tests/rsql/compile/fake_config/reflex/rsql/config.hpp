#pragma once
// A build of reflex without any SQL dialect, as the compile-failure test sees it.
#define REFLEX_RSQL_HAS_POSTGRES 0
#define REFLEX_RSQL_HAS_MYSQL 0
#define REFLEX_RSQL_HAS_SQLITE 0
