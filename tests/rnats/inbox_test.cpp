// Events from JetStream through an rsql::Inbox: read twice (the cursor rewound, as after a lost
// cursor store or a replay), their effects still happen once.

#include "reflex/rpatterns/inbox.hpp"

#include <gtest/gtest.h>

#include "nats_test.hpp"
#include "reflex/errors.hpp"
#include "reflex/mem_cursor_store.hpp"
#include "reflex/rnats/source.hpp"
#include "reflex/rsql/rsql.hpp"
#include "reflex/run.hpp"
#include "reflex_test/env.hpp"

namespace {

namespace rnats = reflex::rnats;
using rnats_test::TempStream;

TEST(JetStreamInbox, EventsReadTwiceThroughDeduplicatedTakeEffectOnce) {
  auto conn = rnats_test::connect();
  TempStream stream(conn);
  for (int i = 0; i < 10; ++i) {
    (void)rnats::publish(conn, {.subject = stream.subject(), .data = std::to_string(i)});
  }
  reflex_test::TempDir dir;
  auto db = reflex::rsql::Database::open("sqlite://" + (dir.path() / "inbox.db").string());
  db->create_inbox_table();
  auto inbox = std::make_shared<reflex::rsql::Inbox>(db);

  std::vector<std::string> effects;
  auto consumer = reflex::rpatterns::deduplicated(
      inbox, stream.name(),
      reflex::make_consumer("mailer", [&](const reflex::Event& e) { effects.push_back(e.id); }));
  auto cursors = std::make_shared<reflex::MemCursorStore>();
  const reflex::Spec spec{.stream = rnats::stream_func(conn, {.stream = stream.name()}),
                          .cursors = cursors,
                          .consumer = consumer,
                          .options = {.to_head = true}};
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  ASSERT_EQ(effects.size(), 10u);
  ASSERT_EQ(cursors->get("mailer"), "10");

  cursors->set("mailer", "");  // rewound: every message is delivered again
  EXPECT_THROW(reflex::run({}, spec), reflex::HeadReached);
  EXPECT_EQ(effects.size(), 10u) << "a redelivered message took effect again";
  EXPECT_EQ(cursors->get("mailer"), "10");
  EXPECT_TRUE(inbox->contains(stream.name(), "10"));
}

}  // namespace
