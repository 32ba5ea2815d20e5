// Quickstart: produce events, then run a consumer that prints them and keeps its cursor.
//
// This version keeps events in reflex::MemLog (in memory); the same consumer code runs unchanged on
// a SQL outbox table, a gRPC peer or a JetStream stream: only Spec::stream changes.
#include <iostream>
#include <reflex/reflex.hpp>

namespace {

enum class UserEvent { Created = 1, EmailChanged = 2, Deleted = 3 };

const char* to_string(int type) {
  switch (static_cast<UserEvent>(type)) {
    case UserEvent::Created:
      return "UserCreated";
    case UserEvent::EmailChanged:
      return "UserEmailChanged";
    case UserEvent::Deleted:
      return "UserDeleted";
  }
  return "Unknown";
}

}  // namespace

int main() {
  reflex::MemLog events;
  auto cursors = std::make_shared<reflex::MemCursorStore>();

  // Producer side: one event per state change.
  events.append(reflex::type_value(UserEvent::Created), "alice");
  events.append(reflex::type_value(UserEvent::Created), "bob");
  events.append(reflex::type_value(UserEvent::EmailChanged), "alice", R"({"email":"a@x.org"})");
  events.append(reflex::type_value(UserEvent::Deleted), "bob");

  // Consumer side: business logic per event; the cursor moves only after it succeeds.
  auto printer = reflex::make_consumer("printer", [](const reflex::Event& e) {
    std::cout << "consumed event id=" << e.id << " type=" << to_string(e.type)
              << " foreign_id=" << e.foreign_id;
    if (!e.metadata.empty()) std::cout << " metadata=" << e.metadata;
    std::cout << '\n';
  });

  reflex::Spec spec{.stream = events.stream_func(),
                    .cursors = cursors,
                    .consumer = printer,
                    .options = {.to_head = true}};
  try {
    reflex::run(std::stop_token{}, spec);
  } catch (const reflex::HeadReached&) {
    std::cout << "reached the head; cursor of \"printer\" = " << cursors->get("printer") << '\n';
  }

  // A second run resumes after the stored cursor: only new events are consumed.
  events.append(reflex::type_value(UserEvent::Created), "carol");
  try {
    reflex::run(std::stop_token{}, spec);
  } catch (const reflex::HeadReached&) {
    std::cout << "reached the head again; cursor = " << cursors->get("printer") << '\n';
  }
  return 0;
}
