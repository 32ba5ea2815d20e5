// Foreign ids are UTF-8 text on every dialect: the wire formats reflex serves carry them as
// protobuf strings and JSON strings, so a producer that hands over other bytes is refused before
// anything is written, on the producer API and on publish() alike.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend.hpp"
#include "reflex/errors.hpp"
#include "reflex_test/env.hpp"

namespace reflex_test::rsql {
namespace {

class ForeignIds : public ::testing::Test, protected FreshEvents {
 protected:
  ForeignIds() : FreshEvents("fid_events") {}
};

TEST_F(ForeignIds, AForeignIdThatIsNotUtf8IsRefusedAndNothingOfItsTransactionIsWritten) {
  EventsTable table(backend->database(), {.schema = {.table = name}});
  auto producer = backend->producer();
  producer->begin();
  (void)producer->insert(table, NewEvent{.foreign_id = "caf\xc3\xa9", .type = 1});  // é: fine
  try {
    (void)producer->insert(table, NewEvent{.foreign_id = std::string("\xc3", 1), .type = 1});
    FAIL() << "a foreign id that is not UTF-8 was accepted";
  } catch (const reflex::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("not valid UTF-8"), std::string::npos) << what;
    EXPECT_NE(what.find("\\xc3"), std::string::npos) << "the message shows the bytes: " << what;
  }
  producer->rollback();  // the caller's choice after a failed insert
  EXPECT_TRUE(read_to_head(table).empty());

  const std::vector<NewEvent> batch = {{.foreign_id = "a", .type = 1},
                                       {.foreign_id = std::string("b\xff", 2), .type = 1}};
  EXPECT_THROW(table.publish(batch), reflex::ConfigError);
  producer->begin();
  EXPECT_THROW((void)producer->insert_batch(table, batch), reflex::ConfigError);
  producer->rollback();
  EXPECT_TRUE(read_to_head(table).empty()) << "a refused batch writes none of its events";
}

TEST_F(ForeignIds, EveryValidUtf8ForeignIdIsWrittenAndReadBackAsItWas) {
  EventsTable table(backend->database(), {.schema = {.table = name}});
  const std::vector<std::string> ids = {"plain", "caf\xc3\xa9", "\xe2\x82\xac 100",
                                        "\xf0\x9f\x98\x80", "a\tb"};
  std::vector<NewEvent> batch;
  for (const auto& id : ids) batch.push_back({.foreign_id = id, .type = 1});
  table.publish(batch);
  const auto events = read_to_head(table);
  ASSERT_EQ(events.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(events[i].foreign_id, ids[i]);
}

}  // namespace
}  // namespace reflex_test::rsql
