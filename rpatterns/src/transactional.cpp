// transactional_spec: batch_spec whose batch function commits the batch's effects and its cursor
// in one transaction (TransactionalHooks::commit), so the cursor store batch_spec gets only reads.
#include "reflex/rpatterns/transactional.hpp"

#include "reflex/errors.hpp"
#include "reflex/rpatterns/batch.hpp"

namespace reflex::rpatterns {

namespace {

/// The cursor store of a transactional spec: get() reads the committed cursor; set() and flush()
/// do nothing, because each batch's commit moved the cursor durably already, in the transaction
/// of the batch's effects (writing it again would be a second, unfenced write).
class CommittedCursor final : public CursorStore {
 public:
  explicit CommittedCursor(std::function<std::string()> get) : get_(std::move(get)) {}
  std::string get(std::string_view /*name*/) override { return get_(); }
  void set(std::string_view /*name*/, std::string_view /*cursor*/) override {}
  void flush() override {}

 private:
  std::function<std::string()> get_;
};

}  // namespace

namespace detail {

Spec transactional_spec(StreamFunc stream, std::string name, TransactionalHooks hooks,
                        TransactionalOptions options) {
  const std::string what = "rpatterns::transactional_spec";
  if (name.empty()) throw ConfigError(what + ": the consumer name (CursorRef::name) is empty");
  if (!hooks.get) throw ConfigError(what + ": consumer \"" + name + "\" has a null cursor store");
  if (!hooks.commit) throw ConfigError(what + ": consumer \"" + name + "\" has no function");
  if (options.max_batch == 0) {
    throw ConfigError(what + ": consumer \"" + name +
                      "\" has TransactionalOptions.max_batch 0; use 1 or more (1: one "
                      "transaction per event)");
  }
  if (options.window.count() <= 0 && options.max_batch > 1) {
    throw ConfigError(what + ": consumer \"" + name +
                      "\" has TransactionalOptions.window 0 with max_batch " +
                      std::to_string(options.max_batch) +
                      ", so a partial batch would never commit; set a window (e.g. 5ms) or "
                      "max_batch 1");
  }
  BatchOptions batch{.max_size = options.max_batch,
                     .window = options.window,
                     .filter = std::move(options.filter),
                     .stream = options.stream};
  return batch_spec(std::move(stream), std::make_shared<CommittedCursor>(std::move(hooks.get)),
                    std::move(name), std::move(hooks.commit), std::move(batch));
}

}  // namespace detail

}  // namespace reflex::rpatterns
