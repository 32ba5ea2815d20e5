#include "reflex/rstate/cache.hpp"
#include "reflex/rstategate/sql.hpp"

namespace reflex::rstategate {
namespace {

class SqlCacheStore final : public CacheStore {
 public:
  explicit SqlCacheStore(rstate::CacheTable table) : table_(std::move(table)) {}
  void set(std::string_view domain, std::string_view key, std::string_view value,
           std::optional<Clock::time_point> expires) override {
    table_.set(domain, key, value, expires);
  }
  std::optional<CacheEntry> get(std::string_view domain, std::string_view key) override {
    auto found = table_.get(domain, key);
    if (!found) return std::nullopt;
    return CacheEntry{.value = std::move(found->first), .expires = found->second};
  }
  void erase(std::string_view domain, std::string_view key) override {
    (void)table_.erase(domain, key);
  }

 private:
  rstate::CacheTable table_;
};

class SqlMutexStore final : public MutexStore {
 public:
  explicit SqlMutexStore(rstate::MutexTable table) : table_(std::move(table)) {}
  bool lock(std::string_view domain, std::string_view key,
            std::optional<Clock::time_point> expires) override {
    return table_.lock(domain, key, expires);
  }
  bool unlock(std::string_view domain, std::string_view key) override {
    return table_.unlock(domain, key);
  }

 private:
  rstate::MutexTable table_;
};

}  // namespace

std::shared_ptr<CacheStore> make_sql_cache_store(std::shared_ptr<rsql::Database> database,
                                                 rstate::CacheSchema schema) {
  return std::make_shared<SqlCacheStore>(
      rstate::CacheTable(std::move(database), std::move(schema)));
}

std::shared_ptr<MutexStore> make_sql_mutex_store(std::shared_ptr<rsql::Database> database,
                                                 rstate::MutexesSchema schema) {
  return std::make_shared<SqlMutexStore>(
      rstate::MutexTable(std::move(database), std::move(schema)));
}

}  // namespace reflex::rstategate
