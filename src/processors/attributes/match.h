#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "config/schema.h"
#include "log/format.h"
#include "ottl/pattern.h"

namespace sluice::processors::attributes {

// The Collector's `include` / `exclude` match properties. An item matches
// when every property that is set matches: within a list of names any one
// (`services`, `span_names`, `span_kinds`, `libraries`, `log_bodies`,
// `log_severity_texts`, `metric_names`), within `attributes` and
// `resources` every one. `match_type: strict` compares whole values;
// `regexp` matches anywhere in the value (anchor with ^ and $), as the
// Collector's does.
struct KeyValueMatch {
  std::string key;
  std::optional<std::string> value;     // strict: an encoded AnyValue; unset: the key exists
  std::optional<ottl::Pattern> regexp;  // regexp: over the value's text
};

struct MatchProperties {
  bool regexp = false;
  std::vector<std::string> services, span_names, log_bodies, log_severity_texts, metric_names;
  std::vector<std::optional<ottl::Pattern>> services_re, span_names_re, log_bodies_re,
      log_severity_texts_re, metric_names_re;
  std::vector<int64_t> span_kinds;  // SPAN_KIND_* values
  std::vector<KeyValueMatch> attributes, resources;
  struct Library {
    std::string name;
    std::optional<std::string> version;
    std::optional<ottl::Pattern> name_re, version_re;
  };
  std::vector<Library> libraries;
  struct Severity {
    int64_t min = 0;
    bool match_undefined = false;
  };
  std::optional<Severity> log_severity_number;

  // The properties set that a signal's items cannot have ("span_names" for
  // logs); empty when all apply.
  std::vector<std::string> NotFor(log::Signal signal) const;
};

// Parses an `include:` or `exclude:` map.
void ParseMatchProperties(const YAML::Node& node, config::Context& ctx, MatchProperties* out);

// One item as the properties see it; fields a signal lacks stay empty.
struct MatchItem {
  std::string_view resource;      // encoded Resource
  std::string_view scope;         // encoded InstrumentationScope
  std::string_view attributes;    // message holding the item's KeyValues...
  uint32_t attributes_field = 0;  // ...at this field (0: none)
  std::string_view name;          // span or metric name
  int64_t kind = 0;
  std::string_view body;  // log body AnyValue
  std::string_view severity_text;
  int64_t severity_number = 0;
};

bool Matches(const MatchProperties& p, const MatchItem& item);

}  // namespace sluice::processors::attributes
