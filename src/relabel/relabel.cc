#include "relabel/relabel.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "ottl/pattern.h"

namespace sluice::relabel {
namespace {

const std::vector<std::pair<const char*, Action>>& Actions() {
  static const auto* a = new std::vector<std::pair<const char*, Action>>{
      {"replace", Action::kReplace},     {"keep", Action::kKeep},
      {"drop", Action::kDrop},           {"keepequal", Action::kKeepEqual},
      {"dropequal", Action::kDropEqual}, {"hashmod", Action::kHashMod},
      {"labelmap", Action::kLabelMap},   {"labeldrop", Action::kLabelDrop},
      {"labelkeep", Action::kLabelKeep}, {"lowercase", Action::kLowercase},
      {"uppercase", Action::kUppercase},
  };
  return *a;
}

bool ValidLabelName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

// Prometheus' hashmod: the MD5 of the value, its last 8 bytes as a
// big-endian integer.
uint64_t Md5Sum64(std::string_view s) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), digest, &len, EVP_md5(), nullptr);
  uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | digest[i];
  return v;
}

std::string Joined(const Rule& r, const LabelSet& labels) {
  std::string val;
  for (size_t i = 0; i < r.source_labels.size(); ++i) {
    if (i > 0) val += r.separator;
    val.append(labels.Get(r.source_labels[i]));
  }
  return val;
}

// Expands `rewrite` with the groups of `re` matched against all of `val`;
// false when it does not match.
bool Expand(const re2::RE2& re, std::string_view val, const std::string& rewrite,
            std::string* out) {
  int n = std::min(re.NumberOfCapturingGroups(), 9) + 1;
  re2::StringPiece groups[10];
  if (!re.Match(val, 0, val.size(), re2::RE2::ANCHOR_BOTH, groups, n)) return false;
  out->clear();
  return re.Rewrite(out, rewrite, groups, n);
}

}  // namespace

const char* ActionName(Action a) {
  for (const auto& [name, action] : Actions()) {
    if (action == a) return name;
  }
  return "?";
}

bool Apply(const std::vector<Rule>& rules, LabelSet* labels) {
  std::string val, target, value;
  for (const Rule& r : rules) {
    const bool selected =
        r.if_.empty() || std::any_of(r.if_.begin(), r.if_.end(),
                                     [&](const Selector& s) { return s.Matches(*labels); });
    // keep and drop take the selector as part of their test (vmagent's
    // semantics: keep with `if` keeps only what it matches); every other
    // action applies only to the series the selector matches.
    if (!selected && r.action != Action::kKeep) continue;
    switch (r.action) {
      case Action::kDrop:
        if (re2::RE2::FullMatch(Joined(r, *labels), *r.re)) return false;
        break;
      case Action::kKeep:
        if (!selected || !re2::RE2::FullMatch(Joined(r, *labels), *r.re)) return false;
        break;
      case Action::kDropEqual:
        if (labels->Get(r.target_label) == Joined(r, *labels)) return false;
        break;
      case Action::kKeepEqual:
        if (labels->Get(r.target_label) != Joined(r, *labels)) return false;
        break;
      case Action::kReplace:
        val = Joined(r, *labels);
        if (!Expand(*r.re, val, r.target_rewrite, &target)) break;
        if (!ValidLabelName(target)) break;
        Expand(*r.re, val, r.rewrite, &value);
        labels->Set(target, value);  // "" removes the label
        break;
      case Action::kLowercase:
      case Action::kUppercase:
        val = Joined(r, *labels);
        for (char& c : val) {
          c = static_cast<char>(r.action == Action::kLowercase
                                    ? std::tolower(static_cast<unsigned char>(c))
                                    : std::toupper(static_cast<unsigned char>(c)));
        }
        labels->Set(r.target_label, val);
        break;
      case Action::kHashMod:
        val = Joined(r, *labels);
        labels->Set(r.target_label, std::to_string(Md5Sum64(val) % r.modulus));
        break;
      case Action::kLabelMap: {
        // New labels are computed from the set as it was before the rule.
        std::vector<std::pair<std::string, std::string>> added;
        for (size_t i = 0; i < labels->size(); ++i) {
          const auto& l = (*labels)[i];
          if (Expand(*r.re, l.name, r.rewrite, &target)) added.emplace_back(target, l.value);
        }
        for (const auto& [name, v] : added) labels->Set(name, v);
        break;
      }
      case Action::kLabelDrop:
        labels->RemoveIf([&](std::string_view n) { return re2::RE2::FullMatch(n, *r.re); });
        break;
      case Action::kLabelKeep:
        labels->RemoveIf([&](std::string_view n) { return !re2::RE2::FullMatch(n, *r.re); });
        break;
    }
  }
  return true;
}

void ParseRules(const YAML::Node& node, config::Context& ctx, std::vector<Rule>* out) {
  if (!node.IsSequence()) {
    ctx.AddError(node, "expected a list of relabel configs");
    return;
  }
  for (const auto& item : node) {
    if (!item.IsMap()) {
      ctx.AddError(item, "expected a relabel config: a map with `action` and what it needs");
      continue;
    }
    Rule r;
    bool ok = true;
    std::vector<std::string> set;  // keys given
    for (auto it = item.begin(); it != item.end(); ++it) {
      std::string k = it->first.as<std::string>();
      const YAML::Node v = it->second;
      set.push_back(k);
      if (k == "source_labels") {
        if (v.IsScalar()) {
          std::string s;
          ok &= ctx.Scalar(v, &s);
          r.source_labels.push_back(s);
        } else {
          ok &= config::internal::ParseStringList(v, ctx, &r.source_labels);
        }
      } else if (k == "separator") {
        ok &= ctx.Scalar(v, &r.separator);
      } else if (k == "target_label") {
        ok &= ctx.Scalar(v, &r.target_label);
      } else if (k == "regex") {
        if (v.IsSequence()) {  // vmagent: a list is OR'ed
          std::vector<std::string> parts;
          ok &= config::internal::ParseStringList(v, ctx, &parts);
          r.regex.clear();
          for (size_t i = 0; i < parts.size(); ++i) r.regex += (i ? "|" : "") + parts[i];
        } else {
          ok &= ctx.Scalar(v, &r.regex);
        }
      } else if (k == "modulus") {
        int64_t m = 0;
        ok &= config::internal::ParseInt(v, ctx, {1, {}}, &m);
        r.modulus = static_cast<uint64_t>(m);
      } else if (k == "replacement") {
        ok &= ctx.Scalar(v, &r.replacement);
      } else if (k == "action") {
        std::string name;
        if (!ctx.Scalar(v, &name)) {
          ok = false;
          continue;
        }
        std::string lower = name;
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        bool found = false;
        std::vector<std::string> names;
        for (const auto& [n, a] : Actions()) {
          names.push_back(n);
          if (lower == n) {
            r.action = a;
            found = true;
          }
        }
        if (!found) {
          ctx.AddError(v, "unknown relabel action \"" + name + "\"; choose one of " +
                              config::JoinChoices(names));
          ok = false;
        }
      } else if (k == "if") {
        std::vector<std::string> selectors;
        if (v.IsSequence()) {
          ok &= config::internal::ParseStringList(v, ctx, &selectors);
        } else {
          std::string s;
          ok &= ctx.Scalar(v, &s);
          selectors.push_back(s);
        }
        for (size_t i = 0; i < selectors.size(); ++i) {
          Result<Selector> sel = Selector::Parse(selectors[i]);
          if (!sel.ok()) {
            ctx.AddError(v.IsSequence() ? v[i] : v,
                         "if: '" + selectors[i] + "': " + sel.status().message());
            ok = false;
            continue;
          }
          r.if_.push_back(std::move(sel).value());
        }
      } else {
        ctx.AddError(it->first, "unknown key \"" + k +
                                    "\" in a relabel config; supported: source_labels, "
                                    "separator, target_label, regex, modulus, replacement, "
                                    "action, if");
        ok = false;
      }
    }
    if (!ok) continue;
    auto given = [&](const char* k) { return std::find(set.begin(), set.end(), k) != set.end(); };
    auto fail = [&](const std::string& why) {
      ctx.AddError(item, std::string(ActionName(r.action)) + ": " + why);
    };
    auto re = std::make_shared<re2::RE2>(r.regex, re2::RE2::Quiet);
    if (!re->ok()) {
      ctx.AddError(item["regex"] ? item["regex"] : item, "regex: " + re->error());
      continue;
    }
    r.re = std::move(re);
    Result<std::string> rewrite = ottl::GoTemplateToRewrite(r.replacement, *r.re);
    Result<std::string> target = ottl::GoTemplateToRewrite(r.target_label, *r.re);
    if (!rewrite.ok() || !target.ok()) {
      fail(!rewrite.ok() ? rewrite.status().message() : target.status().message());
      continue;
    }
    r.rewrite = std::move(rewrite).value();
    r.target_rewrite = std::move(target).value();
    switch (r.action) {
      case Action::kReplace:
        if (r.target_label.empty()) {
          fail("needs `target_label`");
          continue;
        }
        break;
      case Action::kLowercase:
      case Action::kUppercase:
      case Action::kHashMod:
        if (!ValidLabelName(r.target_label)) {
          fail("needs `target_label`, a label name ([a-zA-Z_][a-zA-Z0-9_]*)");
          continue;
        }
        if (r.action == Action::kHashMod && r.modulus == 0) {
          fail("needs `modulus`");
          continue;
        }
        break;
      case Action::kKeepEqual:
      case Action::kDropEqual:
        if (!ValidLabelName(r.target_label) || r.source_labels.empty()) {
          fail("needs `source_labels` and `target_label`");
          continue;
        }
        if (given("regex") || given("replacement") || given("modulus")) {
          fail("takes no `regex`, `replacement` or `modulus`");
          continue;
        }
        break;
      case Action::kLabelDrop:
      case Action::kLabelKeep:
        if (given("source_labels") || given("target_label") || given("replacement") ||
            given("modulus") || given("separator")) {
          fail("takes only `regex` (matched against label names)");
          continue;
        }
        break;
      case Action::kLabelMap:
        if (given("source_labels") || given("target_label")) {
          fail("takes `regex` and `replacement` (applied to label names)");
          continue;
        }
        break;
      case Action::kKeep:
      case Action::kDrop:
        if (r.source_labels.empty() && r.if_.empty()) {
          fail("needs `source_labels` (or `if`)");
          continue;
        }
        break;
    }
    // Anchored at both ends, as Prometheus anchors relabel regexes.
    r.re = std::make_shared<re2::RE2>("^(?:" + r.regex + ")$", re2::RE2::Quiet);
    // keep and drop with `if` and no source_labels test the selector
    // alone: the joined value is "", which the default regex matches.
    out->push_back(std::move(r));
  }
}

}  // namespace sluice::relabel
