#include "relabel/relabel.h"

#include <gtest/gtest.h>

#include <map>

namespace sluice::relabel {
namespace {

using Map = std::map<std::string, std::string>;

struct Case {
  const char* name;
  Map in;
  const char* rules;  // YAML list
  bool kept;
  Map out;
};

LabelSet ToSet(const Map& m) {
  LabelSet s;
  for (const auto& [k, v] : m) s.Add(k, v);
  return s;
}

Map ToMap(const LabelSet& s) {
  Map m;
  for (size_t i = 0; i < s.size(); ++i) m[s[i].name] = s[i].value;
  return m;
}

std::vector<Rule> Parse(const std::string& yaml, std::string* errors) {
  config::Context ctx("relabel.yaml");
  auto node = config::LoadString(yaml, ctx);
  std::vector<Rule> rules;
  if (node) ParseRules(*node, ctx, &rules);
  errors->clear();
  for (const auto& e : ctx.errors()) *errors += e.ToString() + "\n";
  return rules;
}

// Each action against the result Prometheus documents for the same rule
// (prometheus/model/relabel and the configuration docs), and vmagent's `if`.
TEST(RelabelTest, EveryActionGivesWhatPrometheusGives) {
  const Map abc = {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}};
  const Case cases[] = {
      {"replace with captures into a new label",
       abc,
       R"y([{source_labels: [a], regex: "f(.*)", target_label: d, replacement: "ch${1}-ch${1}"}])y",
       true,
       {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "choo-choo"}}},
      {"replace joins source labels with the separator",
       abc,
       R"y([{source_labels: [a, b], separator: "-", regex: "(.*)-(.*)", target_label: a, replacement: "$2:$1"}])y",
       true,
       {{"a", "bar:foo"}, {"b", "bar"}, {"c", "baz"}}},
      {"replace is anchored: a partial match does nothing", abc,
       R"y([{source_labels: [a], regex: "o", target_label: d, replacement: "x"}])y", true, abc},
      {"replace with an empty result removes the target",
       abc,
       R"y([{source_labels: [missing], target_label: b}])y",
       true,
       {{"a", "foo"}, {"c", "baz"}}},
      {"replace with a templated target",
       abc,
       R"y([{source_labels: [a], regex: "(.*)", target_label: "${1}_x", replacement: "y"}])y",
       true,
       {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"foo_x", "y"}}},
      {"replace into an invalid label name does nothing",
       {{"a", "1abc"}},
       R"y([{source_labels: [a], regex: "(.*)", target_label: "${1}", replacement: "y"}])y",
       true,
       {{"a", "1abc"}}},
      {"keep keeps a match", abc, R"y([{source_labels: [a], regex: "f.*", action: keep}])y", true,
       abc},
      {"keep drops what does not match",
       abc,
       R"y([{source_labels: [a], regex: "b.*", action: keep}])y",
       false,
       {}},
      {"drop drops a match",
       abc,
       R"y([{source_labels: [c], regex: "baz", action: drop}])y",
       false,
       {}},
      {"drop keeps the rest", abc, R"y([{source_labels: [c], regex: "ba", action: drop}])y", true,
       abc},
      {"keepequal keeps equal values",
       {{"a", "x"}, {"b", "x"}},
       R"y([{source_labels: [a], target_label: b, action: keepequal}])y",
       true,
       {{"a", "x"}, {"b", "x"}}},
      {"keepequal drops different values",
       abc,
       R"y([{source_labels: [a], target_label: b, action: keepequal}])y",
       false,
       {}},
      {"dropequal drops equal values",
       {{"a", "x"}, {"b", "x"}},
       R"y([{source_labels: [a], target_label: b, action: dropequal}])y",
       false,
       {}},
      {"hashmod: md5's last 8 bytes modulo",
       abc,
       R"y([{source_labels: [c], modulus: 1000, target_label: d, action: hashmod}])y",
       true,
       {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "976"}}},
      {"labelmap copies matching labels under new names",
       {{"__meta_kubernetes_pod_label_app", "web"}, {"__meta_x", "1"}, {"job", "j"}},
       R"y([{regex: "__meta_kubernetes_pod_label_(.+)", action: labelmap}])y",
       true,
       {{"__meta_kubernetes_pod_label_app", "web"},
        {"__meta_x", "1"},
        {"app", "web"},
        {"job", "j"}}},
      {"labeldrop removes matching names",
       {{"__meta_x", "1"}, {"job", "j"}, {"meta", "2"}},
       R"y([{regex: "__meta_.*", action: labeldrop}])y",
       true,
       {{"job", "j"}, {"meta", "2"}}},
      {"labelkeep keeps matching names only",
       abc,
       R"y([{regex: "a|b", action: labelkeep}])y",
       true,
       {{"a", "foo"}, {"b", "bar"}}},
      {"lowercase",
       {{"a", "FoO"}},
       R"y([{source_labels: [a], target_label: b, action: lowercase}])y",
       true,
       {{"a", "FoO"}, {"b", "foo"}}},
      {"uppercase",
       {{"a", "FoO"}},
       R"y([{source_labels: [a], target_label: a, action: uppercase}])y",
       true,
       {{"a", "FOO"}}},
      {"if: the rule applies to matching series only",
       abc,
       R"y([{if: '{a="foo"}', target_label: hit, replacement: "1"},
           {if: '{a="other"}', target_label: miss, replacement: "1"}])y",
       true,
       {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"hit", "1"}}},
      {"keep with only if keeps what it matches",
       {{"__name__", "http_requests_total"}},
       R"y([{if: 'http_requests_total{__name__=~"http_.*"}', action: keep}])y",
       true,
       {{"__name__", "http_requests_total"}}},
      {"keep with only if drops the rest",
       {{"__name__", "go_gc"}},
       R"y([{if: '{__name__=~"http_.*"}', action: keep}])y",
       false,
       {}},
      {"drop with a list of selectors",
       {{"__name__", "go_gc"}, {"job", "api"}},
       R"y([{if: ['{job="db"}', '{__name__=~"go_.*", job!="db"}'], action: drop}])y",
       false,
       {}},
      {"rules run in order, each on the result of the last",
       abc,
       R"y([{source_labels: [a], target_label: x},
           {source_labels: [x], regex: "foo", action: keep},
           {regex: "a", action: labeldrop}])y",
       true,
       {{"b", "bar"}, {"c", "baz"}, {"x", "foo"}}},
  };
  for (const Case& c : cases) {
    std::string errors;
    std::vector<Rule> rules = Parse(c.rules, &errors);
    ASSERT_TRUE(errors.empty()) << c.name << ": " << errors;
    LabelSet labels = ToSet(c.in);
    bool kept = Apply(rules, &labels);
    EXPECT_EQ(kept, c.kept) << c.name;
    if (kept && c.kept) {
      EXPECT_EQ(ToMap(labels), c.out) << c.name;
    }
  }
}

TEST(RelabelTest, ConfigErrorsSayWhatTheActionNeeds) {
  std::string errors;
  Parse(R"y(
- {source_labels: [a], action: replace}
- {source_labels: [a], action: hashmod, target_label: b}
- {source_labels: [a], action: keepequal, target_label: b, regex: x}
- {source_labels: [a], action: labeldrop, regex: x}
- {action: Keep}
- {action: rename}
- {source_labels: [a], regex: "(", target_label: b}
- {source_labels: [a], target_label: b, replace: x}
- {if: '{a=b}', action: drop}
)y",
        &errors);
  EXPECT_NE(errors.find("relabel.yaml:2:3: replace: needs `target_label`"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("hashmod: needs `modulus`"), std::string::npos);
  EXPECT_NE(errors.find("keepequal: takes no `regex`, `replacement` or `modulus`"),
            std::string::npos);
  EXPECT_NE(errors.find("labeldrop: takes only `regex`"), std::string::npos);
  EXPECT_NE(errors.find("keep: needs `source_labels` (or `if`)"), std::string::npos)
      << "action names are case-insensitive, as Prometheus reads them";
  EXPECT_NE(errors.find("relabel.yaml:7:12: unknown relabel action \"rename\""), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("regex: missing )"), std::string::npos);
  EXPECT_NE(errors.find("unknown key \"replace\" in a relabel config"), std::string::npos);
  EXPECT_NE(errors.find("if: '{a=b}': column 4: expected a quoted string"), std::string::npos)
      << errors;
}

TEST(SelectorTest, MatchersAndQuoting) {
  LabelSet s;
  s.Add("__name__", "http_requests_total");
  s.Add("code", "503");
  s.Add("path", "/api/v1");
  auto matches = [&](const char* text) {
    Result<Selector> sel = Selector::Parse(text);
    EXPECT_TRUE(sel.ok()) << text << ": " << sel.status().ToString();
    return sel.ok() && sel->Matches(s);
  };
  EXPECT_TRUE(matches("http_requests_total"));
  EXPECT_TRUE(matches(R"y({code=~"5.."})y"));
  EXPECT_FALSE(matches(R"y({code=~"5"})y")) << "anchored";
  EXPECT_TRUE(matches(R"y(http_requests_total{code!="200", path=~'/api/.*',})y"));
  EXPECT_TRUE(matches("{missing=\"\"}")) << "an absent label is empty";
  EXPECT_FALSE(matches(R"y({code!~"5.*"})y"));
  EXPECT_TRUE(matches("{path=`/api/v1`}"));
  EXPECT_FALSE(Selector::Parse("{code=~\"(\"}").ok());
  EXPECT_FALSE(Selector::Parse("{}").ok());
  EXPECT_FALSE(Selector::Parse("a b").ok());
}

}  // namespace
}  // namespace sluice::relabel
