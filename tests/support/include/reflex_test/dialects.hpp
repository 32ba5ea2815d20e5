#pragma once
// The three SQL dialects a parameterized test runs on, and where each one's database is.
// Header-only and for tests that link reflex::rsql: the support library does not depend on rsql.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "reflex/rsql/schema.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test {

/// Every dialect, for INSTANTIATE_TEST_SUITE_P(…, ::testing::ValuesIn(kDialects), dialect_name).
inline constexpr reflex::rsql::Dialect kDialects[] = {
    reflex::rsql::Dialect::sqlite, reflex::rsql::Dialect::postgres, reflex::rsql::Dialect::mysql};

/// The test's name suffix: "Sqlite", "Postgres" or "MariaDB".
inline std::string dialect_name(const ::testing::TestParamInfo<reflex::rsql::Dialect>& info) {
  switch (info.param) {
    case reflex::rsql::Dialect::sqlite:
      return "Sqlite";
    case reflex::rsql::Dialect::postgres:
      return "Postgres";
    case reflex::rsql::Dialect::mysql:
      return "MariaDB";
  }
  return "?";
}

/// The test database of `dialect`: a file `name` in `dir` for SQLite, else the server of
/// REFLEX_TEST_PG_DSN or REFLEX_TEST_MYSQL_DSN (a test fails without it).
inline std::string dialect_dsn(reflex::rsql::Dialect dialect, const std::filesystem::path& dir,
                               const std::string& name = "test.db") {
  switch (dialect) {
    case reflex::rsql::Dialect::sqlite:
      return "sqlite://" + (dir / name).string();
    case reflex::rsql::Dialect::postgres:
      return required_env("REFLEX_TEST_PG_DSN");
    case reflex::rsql::Dialect::mysql:
      return required_env("REFLEX_TEST_MYSQL_DSN");
  }
  return {};
}

}  // namespace reflex_test
