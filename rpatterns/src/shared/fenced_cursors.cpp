#include "fenced_cursors.hpp"

#include "reflex/errors.hpp"

namespace reflex::rpatterns::detail {

namespace {

/// Thread-safety: read() and list() from any thread; writes one at a time (BufferedCursorStore).
class FencedStorage final : public CursorStorage {
 public:
  FencedStorage(FencedShard shard, std::function<void()> on_fenced)
      : shard_(std::move(shard)), on_fenced_(std::move(on_fenced)) {}

  std::optional<std::string> read(std::string_view name) override {
    check(name);
    for (auto& state : shard_.leases->list(shard_.group)) {
      if (state.shard == shard_.index) return std::move(state.cursor);
    }
    return std::nullopt;
  }

  void write(std::string_view name, std::string_view cursor) override {
    check(name);
    try {
      shard_.leases->write_cursor(shard_.group, shard_.index, shard_.token, cursor);
    } catch (const CursorConflict&) {
      if (on_fenced_) on_fenced_();
      throw;
    }
  }

  void force_write(std::string_view name, std::string_view cursor) override {
    check(name);
    shard_.leases->force_cursor(shard_.group, shard_.index, cursor);
  }

  bool remove(std::string_view name) override {
    const auto stored = read(name);
    if (!stored || stored->empty()) return false;
    force_write(name, "");
    return true;
  }

  std::vector<std::pair<std::string, std::string>> list() override {
    std::vector<std::pair<std::string, std::string>> out;
    if (auto cursor = read(shard_.name)) out.emplace_back(shard_.name, std::move(*cursor));
    return out;
  }

  std::string describe() const override { return shard_.leases->describe(); }

 private:
  /// The store holds one cursor: another name is a bug of the spec, which must use the shard's
  /// consumer name (or a transactional CursorRef).
  void check(std::string_view name) const {
    if (name != shard_.name) {
      throw ConfigError("the cursor store of shard \"" + shard_.name +
                        "\" holds only that shard's cursor, not \"" + std::string(name) +
                        "\": name the shard's consumer ShardContext::name");
    }
  }

  FencedShard shard_;
  std::function<void()> on_fenced_;
};

}  // namespace

std::shared_ptr<BufferedCursorStore> make_fenced_cursors(FencedShard shard,
                                                         std::chrono::milliseconds flush_interval,
                                                         std::function<void()> on_fenced) {
  return std::make_shared<BufferedCursorStore>(
      std::make_unique<FencedStorage>(std::move(shard), std::move(on_fenced)),
      BufferedCursorStoreOptions{.flush_interval = flush_interval});
}

}  // namespace reflex::rpatterns::detail
