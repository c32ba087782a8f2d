#include <gtest/gtest.h>

#include "ottl/otlp_items.h"
#include "ottl/ottl.h"
#include "support/otlp_builders.h"

namespace sluice::ottl {
namespace {

namespace pb = testing::otlp_pb;

// A log record with attributes a="1" (string), b=2 (int), c="x-y-z".
std::string Record() {
  pb::logs::v1::LogRecord r;
  auto* a = r.add_attributes();
  a->set_key("a");
  a->mutable_value()->set_string_value("1");
  auto* b = r.add_attributes();
  b->set_key("b");
  b->mutable_value()->set_int_value(2);
  auto* c = r.add_attributes();
  c->set_key("c");
  c->mutable_value()->set_string_value("x-y-z");
  r.mutable_body()->set_string_value("body");
  return r.SerializeAsString();
}

// Runs `text` on Record(); returns the record after, and whether it changed.
pb::logs::v1::LogRecord RunOn(const std::string& text, bool* changed = nullptr,
                              Status* status = nullptr) {
  Result<Statement> s = Statement::Compile(text, ContextKind::kLog);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  std::string bytes = Record();
  Parents parents;
  EditableItem item(ContextKind::kLog, bytes, parents);
  bool c = false;
  Status st = s->Execute(item, &c);
  if (status != nullptr) {
    *status = st;
  } else {
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  if (changed != nullptr) *changed = c;
  pb::logs::v1::LogRecord out;
  EXPECT_TRUE(out.ParseFromString(std::string(item.bytes())));
  EXPECT_EQ(item.changed(), c);
  return out;
}

std::string Keys(const pb::logs::v1::LogRecord& r) {
  std::string out;
  for (const auto& kv : r.attributes()) out += kv.key() + ",";
  return out;
}

TEST(StatementTest, MissingKeysAndEmptyListsChangeNothing) {
  bool changed = true;
  RunOn(R"s(delete_key(attributes, "absent"))s", &changed);
  EXPECT_FALSE(changed);
  RunOn(R"s(limit(attributes, 3))s", &changed);
  EXPECT_FALSE(changed) << "already within the limit";
  RunOn(R"s(replace_pattern(attributes["b"], "2", "3"))s", &changed);
  EXPECT_FALSE(changed) << "an int is not a string";
  RunOn(R"s(merge_maps(attributes, attributes["absent"], "upsert"))s", &changed);
  EXPECT_FALSE(changed) << "a missing source map";
  auto r = RunOn(R"s(keep_keys(attributes, []))s", &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(r.attributes_size(), 0);
}

TEST(StatementTest, MergeMapsStrategies) {
  // Build a map to merge: {a: "new", d: "4"} via nested sets, then merge.
  auto run = [](const std::string& strategy) {
    std::string bytes = Record();
    Parents parents;
    EditableItem item(ContextKind::kLog, bytes, parents);
    bool c = false;
    for (const char* text :
         {R"s(set(attributes["m"]["a"], "new"))s", R"s(set(attributes["m"]["d"], "4"))s"}) {
      EXPECT_TRUE(Statement::Compile(text, ContextKind::kLog)->Execute(item, &c).ok());
    }
    auto merge = Statement::Compile(
        "merge_maps(attributes, attributes[\"m\"], \"" + strategy + "\")", ContextKind::kLog);
    EXPECT_TRUE(merge.ok()) << merge.status().ToString();
    EXPECT_TRUE(merge->Execute(item, &c).ok());
    pb::logs::v1::LogRecord r;
    EXPECT_TRUE(r.ParseFromString(std::string(item.bytes())));
    std::string out;
    for (const auto& kv : r.attributes()) {
      if (kv.key() == "m") continue;
      out += kv.key() + "=" +
             (kv.value().has_string_value() ? kv.value().string_value()
                                            : std::to_string(kv.value().int_value())) +
             ",";
    }
    return out;
  };
  EXPECT_EQ(run("insert"), "a=1,b=2,c=x-y-z,d=4,");
  EXPECT_EQ(run("update"), "a=new,b=2,c=x-y-z,");
  EXPECT_EQ(run("upsert"), "a=new,b=2,c=x-y-z,d=4,");
}

TEST(StatementTest, RegexAnchorsAndGoTemplates) {
  auto r = RunOn(R"s(replace_pattern(attributes["c"], "-", "+"))s");
  EXPECT_EQ(r.attributes(2).value().string_value(), "x+y+z") << "every match";
  r = RunOn(R"s(replace_pattern(attributes["c"], "^y", "Y"))s");
  EXPECT_EQ(r.attributes(2).value().string_value(), "x-y-z") << "anchored: no match";
  r = RunOn(R"s(replace_pattern(attributes["c"], "(?P<first>\\w)-(\\w)", "${2}$first$$"))s");
  EXPECT_EQ(r.attributes(2).value().string_value(), "yx$-z");
  r = RunOn(R"s(replace_pattern(attributes["c"], "(x)", "[$9]"))s");
  EXPECT_EQ(r.attributes(2).value().string_value(), "[]-y-z") << "an unknown group is empty";
  r = RunOn(R"s(replace_all_patterns(attributes, "key", "^(a|b)$", "k_$1"))s");
  EXPECT_EQ(Keys(r), "k_a,k_b,c,");
}

TEST(StatementTest, TypeMismatchesAreErrorsAndWhereFailuresNameTheStatement) {
  Status st;
  RunOn(R"s(set(severity_number, "high"))s", nullptr, &st);
  EXPECT_EQ(st.message(),
            "statement set(severity_number, \"high\"): severity_number takes an int, "
            "got string");
  RunOn(R"s(set(body, "x") where attributes["a"] * 2 > 1)s", nullptr, &st);
  EXPECT_NE(st.message().find("statement set(body, \"x\") where attributes[\"a\"] * 2 > 1: "
                              "arithmetic needs numbers"),
            std::string::npos)
      << st.message();
  RunOn(R"s(set(body, "x") where attributes["a"])s", nullptr, &st);
  EXPECT_NE(st.message().find("the where condition is string, not a bool"), std::string::npos);
  RunOn(R"s(delete_key(attributes, 5))s", nullptr, &st);
  EXPECT_NE(st.message().find("delete_key's key is int, not a string"), std::string::npos);
}

TEST(StatementTest, BodyMapsAndEmptyValues) {
  auto r = RunOn(R"s(set(body["level"], "warn"))s");
  ASSERT_TRUE(r.body().has_kvlist_value()) << "a string body becomes a map";
  EXPECT_EQ(r.body().kvlist_value().values(0).key(), "level");
  r = RunOn(R"s(set(attributes["e"], ""))s");
  EXPECT_EQ(Keys(r), "a,b,c,e,");
  EXPECT_TRUE(r.attributes(3).value().has_string_value());
  EXPECT_EQ(r.attributes(3).value().string_value(), "");
  r = RunOn(R"s(set(attributes["l"], ["x", 1]))s");
  ASSERT_EQ(r.attributes(3).value().array_value().values_size(), 2);
  EXPECT_EQ(r.attributes(3).value().array_value().values(1).int_value(), 1);
}

}  // namespace
}  // namespace sluice::ottl
