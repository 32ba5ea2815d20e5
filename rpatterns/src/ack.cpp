#include "reflex/rpatterns/ack.hpp"

#include "reflex/errors.hpp"

namespace reflex::rpatterns {

namespace {

class NoSetView final : public CursorStore {
 public:
  explicit NoSetView(std::shared_ptr<CursorStore> store) : store_(std::move(store)) {}
  std::string get(std::string_view name) override { return store_->get(name); }
  void set(std::string_view, std::string_view) override {}
  void flush() override { store_->flush(); }

 private:
  std::shared_ptr<CursorStore> store_;
};

}  // namespace

void AckEvent::ack() const {
  cursors_->set(*consumer_name_, event_.id);
  cursors_->flush();
}

std::shared_ptr<CursorStore> no_set_view(std::shared_ptr<CursorStore> store) {
  if (!store) throw ConfigError("rpatterns::no_set_view: the cursor store is null");
  return std::make_shared<NoSetView>(std::move(store));
}

Spec ack_spec(StreamFunc stream, std::shared_ptr<CursorStore> cursors, std::string name,
              AckConsumeFunc fn, AckOptions options) {
  if (!stream) throw ConfigError("rpatterns::ack_spec: the stream function is empty");
  if (!cursors) throw ConfigError("rpatterns::ack_spec: the cursor store is null");
  if (!fn) throw ConfigError("rpatterns::ack_spec: consumer \"" + name + "\" has no function");
  auto shared_name = std::make_shared<const std::string>(name);
  auto consume = [fn = std::move(fn), cursors, shared_name](std::stop_token stop,
                                                            const Event& event) {
    fn(stop, AckEvent(event, cursors, shared_name));
  };
  return Spec{
      .stream = std::move(stream),
      .cursors = no_set_view(cursors),
      .consumer = make_consumer(std::move(name), std::move(consume), std::move(options.consumer)),
      .options = options.stream};
}

}  // namespace reflex::rpatterns
