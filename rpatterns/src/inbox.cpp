// deduplicated: a consumer that skips the events an inbox recorded and records the others once
// they were consumed.
#include "reflex/rpatterns/inbox.hpp"

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

namespace {

/// Thread-safety: as inner's (the inbox may be called from any thread).
class Deduplicated final : public Consumer {
 public:
  Deduplicated(std::shared_ptr<Inbox> inbox, std::string source, std::shared_ptr<Consumer> inner)
      : inbox_(std::move(inbox)), source_(std::move(source)), inner_(std::move(inner)) {}

  const std::string& name() const noexcept override { return inner_->name(); }

  void consume(std::stop_token stop, const Event& event) override {
    if (inbox_->contains(source_, event.id)) return;
    inner_->consume(std::move(stop), event);
    // Recorded only after inner succeeded: a crash in between repeats the event (at least once),
    // never loses it.
    (void)inbox_->record(source_, event.id);
  }

  void reset() override { inner_->reset(); }
  void stop() override { inner_->stop(); }

 private:
  const std::shared_ptr<Inbox> inbox_;
  const std::string source_;
  const std::shared_ptr<Consumer> inner_;
};

}  // namespace

std::shared_ptr<Consumer> deduplicated(std::shared_ptr<Inbox> inbox, std::string source,
                                       std::shared_ptr<Consumer> inner) {
  if (!inner) throw ConfigError("rpatterns::deduplicated: the inner consumer is null");
  if (!inbox) {
    throw ConfigError("rpatterns::deduplicated: consumer \"" + inner->name() +
                      "\" has a null inbox (rsql::Inbox, or an Inbox of your own)");
  }
  if (source.empty()) {
    throw ConfigError("rpatterns::deduplicated: consumer \"" + inner->name() +
                      "\" has an empty source; name the stream its events come from (a table, a "
                      "peer, a JetStream stream)");
  }
  return std::make_shared<Deduplicated>(std::move(inbox), std::move(source), std::move(inner));
}

}  // namespace reflex::rpatterns
