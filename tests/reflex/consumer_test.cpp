#include "reflex/consumer.hpp"

#include <gtest/gtest.h>

#include "reflex/errors.hpp"

namespace {

enum class Kind { A = 1, B = 2, C = 3 };

reflex::Event event(int type, std::string id = "1") {
  return {.id = std::move(id), .type = type, .foreign_id = "f"};
}

TEST(MakeConsumer, IncludeTypesPassOnlyThoseTypes) {
  std::vector<int> seen;
  auto c = reflex::make_consumer("c", [&](const reflex::Event& e) { seen.push_back(e.type); },
                                 {.include_types = reflex::types(Kind::C, Kind::A)});
  for (int t : {1, 2, 3, 2, 1}) c->consume({}, event(t));
  EXPECT_EQ(seen, (std::vector<int>{1, 3, 1}));
}

TEST(MakeConsumer, AllOfAndAnyOfCombineFilters) {
  auto even_id = [](const reflex::Event& e) { return e.id_int() % 2 == 0; };
  auto type_one = [](const reflex::Event& e) { return e.type == 1; };
  auto both = reflex::all_of({even_id, type_one});
  auto either = reflex::any_of({even_id, type_one});
  EXPECT_TRUE(both(event(1, "2")));
  EXPECT_FALSE(both(event(1, "3")));
  EXPECT_FALSE(both(event(2, "2")));
  EXPECT_TRUE(either(event(2, "2")));
  EXPECT_TRUE(either(event(1, "3")));
  EXPECT_FALSE(either(event(2, "3")));
  EXPECT_TRUE(reflex::all_of({})(event(1)));
  EXPECT_FALSE(reflex::any_of({})(event(1)));
}

TEST(MakeConsumer, AThrowingFilterIsAFilterError) {
  bool called = false;
  auto c = reflex::make_consumer(
      "c", [&](const reflex::Event&) { called = true; },
      {.filter = [](const reflex::Event&) -> bool { throw std::out_of_range("bad filter"); }});
  try {
    c->consume({}, event(1, "9"));
    FAIL() << "expected FilterError";
  } catch (const reflex::FilterError& e) {
    EXPECT_NE(std::string(e.what()).find("bad filter"), std::string::npos) << e.what();
    EXPECT_NE(reflex::find_error<std::out_of_range>(e.cause()), nullptr);
  }
  EXPECT_FALSE(called);
}

TEST(MakeConsumer, RecoverCanSwallowKeepOrReplaceAnError) {
  auto failing = [](const reflex::Event&) { throw std::runtime_error("boom"); };

  auto swallow = reflex::make_consumer(
      "s", failing, {.recover = [](std::stop_token, const reflex::Event&, std::exception_ptr) {
        return std::exception_ptr{};
      }});
  EXPECT_NO_THROW(swallow->consume({}, event(1)));

  auto keep = reflex::make_consumer(
      "k", failing,
      {.recover = [](std::stop_token, const reflex::Event&, std::exception_ptr e) { return e; }});
  EXPECT_THROW(keep->consume({}, event(1)), std::runtime_error);

  auto replace = reflex::make_consumer(
      "r", failing, {.recover = [](std::stop_token, const reflex::Event&, std::exception_ptr) {
        return std::make_exception_ptr(reflex::Unavailable("try later"));
      }});
  EXPECT_THROW(replace->consume({}, event(1)), reflex::Unavailable);
}

TEST(MakeConsumer, RejectsAnEmptyNameOrFunction) {
  EXPECT_THROW((void)reflex::make_consumer("", [](const reflex::Event&) {}), reflex::ConfigError);
  EXPECT_THROW((void)reflex::make_consumer("x", reflex::ConsumeFunc{}), reflex::ConfigError);
}

TEST(MakeConsumer, PassesTheStopTokenToTheFunction) {
  std::stop_source source;
  bool saw_stop = false;
  auto c = reflex::make_consumer(
      "c", [&](std::stop_token stop, const reflex::Event&) { saw_stop = stop.stop_requested(); });
  source.request_stop();
  c->consume(source.get_token(), event(1));
  EXPECT_TRUE(saw_stop);
}

}  // namespace
