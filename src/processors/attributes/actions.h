#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

#include "config/schema.h"
#include "ottl/pattern.h"
#include "wire/otlp/edit.h"

namespace sluice::processors::attributes {

// The OpenTelemetry Collector's attribute actions, shared by the
// `attributes` processor (item attributes) and the `resource` processor
// (resource attributes). Applied in the order configured, each to the
// result of the one before.
enum class ActionKind { kInsert, kUpdate, kUpsert, kDelete, kHash, kExtract, kConvert };
enum class ConvertTo { kInt, kDouble, kString };

struct Action {
  ActionKind kind = ActionKind::kInsert;
  std::string key;
  // insert/update/upsert take exactly one source:
  bool has_value = false;
  std::string value;           // an encoded AnyValue, from `value`
  std::string from_attribute;  // or another attribute's value
  // delete/hash: keys matching it (unanchored, as Go's MatchString);
  // extract: the value's pattern, whose named groups become attributes.
  std::optional<ottl::Pattern> pattern;
  ConvertTo converted_type = ConvertTo::kString;
};

// Parses a list of actions (the Collector's `actions:` or the resource
// processor's `attributes:`). Errors name the action's key and say what
// each action needs.
void ParseActions(const YAML::Node& node, config::Context& ctx, std::vector<Action>* out);

// Applies `actions` to `attrs` in order; true when anything changed.
bool ApplyActions(const std::vector<Action>& actions, wire::otlp::AttributeMap* attrs);

// The YAML value as an encoded AnyValue: plain scalars typed as YAML 1.2
// reads them (true/false, integers, floats, else a string), quoted scalars
// as strings, sequences as arrays, maps as kvlists.
std::string YamlToAnyValue(const YAML::Node& node);

// The Collector's hash of a value: SHA-256 over its bytes (a string's
// UTF-8, an int's or a double's 8 big-endian bytes, a bool's one byte),
// as lowercase hex.
std::string HashValue(std::string_view any_value);

}  // namespace sluice::processors::attributes
