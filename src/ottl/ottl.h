#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sluice::ottl {

// The conditions of the OpenTelemetry Transformation Language (OTTL) that
// the filter processor (and later transform and the connectors) evaluate:
//
//   condition  := or
//   or         := and ("or" and)*
//   and        := not ("and" not)*
//   not        := "not" not | comparison
//   comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)?
//   sum        := term (("+" | "-") term)*
//   term       := unary (("*" | "/") unary)*
//   unary      := "-" unary | primary
//   primary    := literal | path | ENUM | Function "(" args ")" | "(" condition ")"
//               | "[" (condition ("," condition)*)? "]"
//   literal    := "string" | 12 | 1.5 | true | false | nil | 0x0af1 (bytes)
//   path       := name ("." name)* ("[" "key" "]")*
//
// Comparisons follow the OTTL specification: values of different types are
// not equal and not ordered (every ordering is false), ints and doubles
// compare as numbers, strings byte by byte, nil equals only nil.

// Where a condition is evaluated: which item its unqualified paths name.
enum class ContextKind { kSpan, kSpanEvent, kLog, kMetric, kDataPoint, kResource, kScope };

// A value during evaluation. Strings and bytes point into the data being
// evaluated or into the compiled condition, both alive for the evaluation.
struct Value {
  enum class Type { kNil, kBool, kInt, kDouble, kString, kBytes, kList, kMap };
  Type type = Type::kNil;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string_view s;       // kString, kBytes; kMap: the encoded KeyValueList,
                            // kList from data: the encoded ArrayValue
  std::vector<Value> list;  // kList from a literal
  std::string owned;        // backs `s` when the value was computed
  bool uses_owned = false;

  Value() = default;
  // Copies and moves keep `s` pointing at their own `owned`.
  Value(const Value& o) { *this = o; }
  Value(Value&& o) noexcept { *this = std::move(o); }
  Value& operator=(const Value& o);
  Value& operator=(Value&& o) noexcept;

  static Value Nil() { return Value{}; }
  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Double(double v);
  static Value String(std::string_view v);
  static Value Owned(std::string v);  // a computed string
};

// What a path names, resolved when the condition is compiled.
enum class Field {
  kAttributes,          // the item's attributes[...] (span, event, log, data point)
  kResourceAttributes,  // resource.attributes[...]
  kScopeAttributes,     // instrumentation_scope.attributes[...]
  kScopeName,           // instrumentation_scope.name
  kScopeVersion,        // instrumentation_scope.version
  kName,                // span / event / metric name
  kKind,                // span kind (int)
  kStatusCode,          // span status.code (int)
  kStatusMessage,       // span status.message
  kStartTime,           // start_time_unix_nano (int)
  kEndTime,             // end_time_unix_nano (int)
  kTime,                // time_unix_nano (log, event, data point)
  kObservedTime,        // observed_time_unix_nano (log)
  kTraceIdString,       // trace_id.string (hex)
  kSpanIdString,        // span_id.string
  kParentSpanIdString,  // parent_span_id.string
  kTraceState,          // span trace_state
  kSeverityNumber,      // log (int)
  kSeverityText,        // log
  kBody,                // log body (any value)
  kDroppedAttributesCount,
  kMetricType,  // metric type (int, METRIC_DATA_TYPE_*)
  kMetricUnit,
  kMetricDescription,
};

struct Path {
  Field field;
  std::vector<std::string> keys;  // [k1][k2]: into maps; empty: the whole value
  std::string text;               // as written, for messages
};

// The item a condition is evaluated against. Get returns Nil for what the
// item does not have (a missing attribute, an unset body).
class Item {
 public:
  virtual ~Item() = default;
  virtual Value Get(const Path& path) const = 0;
};

class Node;

// A compiled condition. Immutable: may be evaluated from many threads.
class Condition {
 public:
  // Parses `text` for `kind`. InvalidArgument names the column (1-based) of
  // the problem and what was expected there: "column 12: unknown path
  // \"atributes\"; a span has: attributes, name, kind, ...".
  static Result<Condition> Compile(std::string_view text, ContextKind kind);

  // True when the condition holds for `item`. An error (e.g. arithmetic on
  // a string) is InvalidArgument with the condition's text.
  Result<bool> Evaluate(const Item& item) const;

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

// "nil", "bool", "int", "double", "string", "bytes", "list" or "map".
const char* TypeName(const Value& v);

// Reads an encoded AnyValue into a Value that views it.
Value FromAnyValue(std::string_view any_value);
// Looks `keys` up in the KeyValues at `field_number` of `message` (the first
// key among them, the rest in nested kvlists); Nil when absent.
Value LookupAttribute(std::string_view message, uint32_t field_number,
                      const std::vector<std::string>& keys);

}  // namespace sluice::ottl

namespace sluice::ottl {

// An item statements change. Get (from Item) must see every change Set made.
class MutableItem : public Item {
 public:
  // Sets what `path` names; with keys, the entry of the map (created when
  // missing; further keys go into nested kvlists). InvalidArgument when the
  // value's type does not fit ("name takes a string, got int").
  virtual Status Set(const Path& path, const Value& value) = 0;
};

// An OTTL statement: an editor call with an optional `where` condition,
//   set(attributes["env"], "prod") where resource.attributes["k8s"] != nil
// Editors: set, delete_key, delete_matching_keys, keep_keys,
// replace_pattern, replace_all_patterns, truncate_all, limit, merge_maps.
// Arguments are the expressions of conditions (literals, paths,
// arithmetic, lists). Immutable once compiled; run from many threads.
class Statement {
 public:
  class Editor;

  // Errors name the column and what was expected there, as
  // Condition::Compile; a target that cannot be written in `kind` is an
  // error ("resource attributes are set in the resource context").
  static Result<Statement> Compile(std::string_view text, ContextKind kind);

  // Runs the editor when the where condition holds. *changed is set when
  // the item changed. Errors (a where condition that fails to evaluate, a
  // value of the wrong type) are InvalidArgument naming the statement.
  Status Execute(MutableItem& item, bool* changed) const;

  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::shared_ptr<const Editor> editor_;
  std::shared_ptr<const Node> where_;
};

// A value as an encoded AnyValue (nil: an empty AnyValue).
std::string ToAnyValue(const Value& v);

}  // namespace sluice::ottl
