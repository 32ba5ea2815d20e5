// reflex_bench: every hot path against its raw baseline, in one run. Driven by scripts/bench,
// which starts the servers and passes their addresses in the environment:
//   reflex_bench [--quick] [--json FILE] [--only ID,ID] [--rounds N]
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <sstream>

#include "harness.hpp"
#include "reflex/version.hpp"
#include "scenarios.hpp"

namespace {

std::string required(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    std::cerr << "reflex_bench: " << name
              << " is not set: run it through scripts/bench, which starts the servers\n";
    std::exit(2);
  }
  return value;
}

std::string first_line(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key)) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line
                                        : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown";
}

std::vector<std::pair<std::string, std::string>> machine(const bench::Config& cfg) {
  utsname u{};
  uname(&u);
  std::vector<std::pair<std::string, std::string>> m = {
      {"cpu", first_line("/proc/cpuinfo", "model name")},
      {"cores", std::to_string(sysconf(_SC_NPROCESSORS_ONLN))},
      {"kernel", std::string(u.sysname) + " " + u.release},
      {"reflex", reflex::version_string},
      {"mode", cfg.quick ? "quick" : "full"},
      {"rounds", std::to_string(cfg.max_rounds())},
      {"round", std::to_string(cfg.window().count()) + " ms"},
  };
  try {
    pqxx::connection c(cfg.pg_dsn);
    pqxx::nontransaction t(c);
    m.emplace_back("postgresql", t.exec1("SHOW server_version")[0].c_str());
    m.emplace_back("postgresql_fsync", t.exec1("SHOW fsync")[0].c_str());
  } catch (const std::exception&) {
  }
  if (const char* v = std::getenv("REFLEX_BENCH_MARIADB_VERSION")) m.emplace_back("mariadb", v);
  if (const char* v = std::getenv("REFLEX_BENCH_NATS_VERSION")) m.emplace_back("nats-server", v);
  if (const char* v = std::getenv("REFLEX_BENCH_DISK")) m.emplace_back("disk", v);
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--mem-child") {
    return bench::mem_child(argv[2], argv[3], std::atol(argv[4]));
  }
  if (argc == 8 && std::string(argv[1]) == "--shared-child") {
    return bench::shared_child(argv[2], argv[3], argv[4], argv[5], std::atoi(argv[6]), argv[7]);
  }
  if (argc == 6 && std::string(argv[1]) == "--latency-child") {
    return bench::latency_child(argv[2], argv[3], argv[4], std::atoi(argv[5]));
  }
  bench::Config cfg;
  cfg.self = "/proc/self/exe";
  std::string json;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      cfg.quick = true;
    } else if (arg == "--json" && i + 1 < argc) {
      json = argv[++i];
    } else if (arg == "--only" && i + 1 < argc) {
      std::stringstream ids(argv[++i]);
      for (std::string id; std::getline(ids, id, ',');) cfg.only.push_back(id);
    } else if ((arg == "--rounds" || arg == "--reps") && i + 1 < argc) {
      cfg.rounds = std::max(1, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: reflex_bench [--quick] [--json FILE] [--only P1,S1,...] [--rounds N]\n";
      return 2;
    }
  }
  cfg.pg_dsn = required("REFLEX_TEST_PG_DSN");
  cfg.mysql_dsn = required("REFLEX_TEST_MYSQL_DSN");
  cfg.nats_url = required("REFLEX_TEST_NATS_URL");
  {
    // A child started through /proc/self/exe is this same binary.
    char path[4096];
    const auto n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) cfg.self.assign(path, static_cast<std::size_t>(n));
  }

  std::vector<bench::Row> rows;
  const auto group = [&](const char* name,
                         void (*fn)(const bench::Config&, std::vector<bench::Row>&)) {
    try {
      fn(cfg, rows);
    } catch (const std::exception& e) {
      bench::log(std::string(name) + " failed: " + e.what());
      rows.push_back({.id = name,
                      .name = std::string("failed: ") + e.what(),
                      .unit = "",
                      .goal = "",
                      .met = false});
    }
  };
  group("producer", bench::producer_scenarios);
  group("stream", bench::stream_scenarios);
  group("head", bench::head_scenarios);
  group("transport", bench::transport_scenarios);
  group("latency", bench::latency_scenarios);
  group("exactly_once", bench::exactly_once_scenarios);
  group("shared", bench::shared_scenarios);
#ifdef REFLEX_BENCH_STATEGATE
  group("entities", bench::entities_scenarios);
#endif
#ifdef REFLEX_BENCH_WINDSHIFT
  group("windshift", bench::windshift_scenarios);
#endif
  bench::print_table(rows);
  if (!json.empty()) {
    bench::write_json(json, rows, machine(cfg));
    bench::log("wrote " + json);
  }
  return 0;
}
