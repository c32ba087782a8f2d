#pragma once

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/schema.h"
#include "relabel/labels.h"
#include "relabel/selector.h"

namespace sluice::relabel {

// Prometheus' relabel_config, as `relabel_configs` and
// `metric_relabel_configs` take it, with every action, plus vmagent's `if:`
// (the rule applies only to series the selector matches). One engine for
// the relabel processor, the scrape receiver and backfill.
enum class Action {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

struct Rule {
  Action action = Action::kReplace;
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string target_label;
  std::string regex = "(.*)";  // as written; matched anchored at both ends
  std::shared_ptr<const re2::RE2> re;
  uint64_t modulus = 0;
  std::string replacement = "$1";
  std::string rewrite;         // `replacement` as an RE2 rewrite
  std::string target_rewrite;  // `target_label` as an RE2 rewrite
  std::vector<Selector> if_;   // any may match; empty: every series
};

// Parses a list of relabel_configs. Errors (unknown keys and actions, a
// rule missing what its action needs, bad regexes) carry file:line:column.
void ParseRules(const YAML::Node& node, config::Context& ctx, std::vector<Rule>* out);

// Runs `rules` on `labels` in order. Returns false when a rule dropped the
// series (the labels are then unspecified).
bool Apply(const std::vector<Rule>& rules, LabelSet* labels);

// The name of an action as configured ("labeldrop").
const char* ActionName(Action a);

}  // namespace sluice::relabel
