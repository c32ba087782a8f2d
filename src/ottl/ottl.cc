#include "ottl/ottl.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <utility>

#include "ottl/parse.h"
#include "ottl/pattern.h"
#include "wire/otlp/common.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::ottl {

Value& Value::operator=(const Value& o) {
  if (this == &o) return *this;
  type = o.type;
  b = o.b;
  i = o.i;
  d = o.d;
  list = o.list;
  owned = o.owned;
  uses_owned = o.uses_owned;
  s = uses_owned ? std::string_view(owned) : o.s;
  return *this;
}

Value& Value::operator=(Value&& o) noexcept {
  if (this == &o) return *this;
  type = o.type;
  b = o.b;
  i = o.i;
  d = o.d;
  list = std::move(o.list);
  owned = std::move(o.owned);
  uses_owned = o.uses_owned;
  s = uses_owned ? std::string_view(owned) : o.s;
  return *this;
}

Value Value::Bool(bool v) {
  Value x;
  x.type = Type::kBool;
  x.b = v;
  return x;
}
Value Value::Int(int64_t v) {
  Value x;
  x.type = Type::kInt;
  x.i = v;
  return x;
}
Value Value::Double(double v) {
  Value x;
  x.type = Type::kDouble;
  x.d = v;
  return x;
}
Value Value::String(std::string_view v) {
  Value x;
  x.type = Type::kString;
  x.s = v;
  return x;
}
Value Value::Owned(std::string v) {
  Value x;
  x.type = Type::kString;
  x.owned = std::move(v);
  x.uses_owned = true;
  x.s = x.owned;
  return x;
}

Value FromAnyValue(std::string_view any_value) {
  namespace f = wire::otlp::field;
  wire::ProtoReader r(any_value);
  Value v;
  while (r.Next()) {
    switch (r.field()) {
      case f::kAnyString:
        v = Value::String(r.bytes());
        break;
      case f::kAnyBool:
        v = Value::Bool(r.varint() != 0);
        break;
      case f::kAnyInt:
        v = Value::Int(r.as_int64());
        break;
      case f::kAnyDouble:
        v = Value::Double(r.as_double());
        break;
      case f::kAnyArray:
        v = Value{};
        v.type = Value::Type::kList;
        v.s = r.bytes();
        break;
      case f::kAnyKvlist:
        v = Value{};
        v.type = Value::Type::kMap;
        v.s = r.bytes();
        break;
      case f::kAnyBytes:
        v = Value{};
        v.type = Value::Type::kBytes;
        v.s = r.bytes();
        break;
      default:
        break;
    }
  }
  return r.ok() ? v : Value::Nil();
}

Value LookupAttribute(std::string_view message, uint32_t field_number,
                      const std::vector<std::string>& keys) {
  if (keys.empty()) {
    // The whole map, as a KeyValueList (a kvlist's body).
    std::string list;
    wire::ProtoReader r(message);
    while (r.Next()) {
      if (r.field() == field_number && r.Is(wire::WireType::kLengthDelimited)) {
        wire::ProtoWriter(&list).Bytes(wire::otlp::field::kKvlistValues, r.bytes());
      }
    }
    Value v = Value::Owned(std::move(list));
    v.type = Value::Type::kMap;
    return v;
  }
  std::string_view any;
  if (!wire::otlp::FindAttribute(message, field_number, keys[0], &any)) return Value::Nil();
  Value v = FromAnyValue(any);
  for (size_t k = 1; k < keys.size(); ++k) {
    if (v.type != Value::Type::kMap) return Value::Nil();
    if (!wire::otlp::FindAttribute(v.s, wire::otlp::field::kKvlistValues, keys[k], &any)) {
      return Value::Nil();
    }
    v = FromAnyValue(any);
  }
  return v;
}

const char* TypeName(const Value& v) {
  switch (v.type) {
    case Value::Type::kNil:
      return "nil";
    case Value::Type::kBool:
      return "bool";
    case Value::Type::kInt:
      return "int";
    case Value::Type::kDouble:
      return "double";
    case Value::Type::kString:
      return "string";
    case Value::Type::kBytes:
      return "bytes";
    case Value::Type::kList:
      return "list";
    case Value::Type::kMap:
      return "map";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// Evaluation tree

class Node {
 public:
  virtual ~Node() = default;
  // Sets *out, or returns an error.
  virtual Status Eval(const Item& item, Value* out) const = 0;
};

namespace {

bool Numeric(const Value& v) {
  return v.type == Value::Type::kInt || v.type == Value::Type::kDouble;
}
double AsDouble(const Value& v) {
  return v.type == Value::Type::kInt ? static_cast<double>(v.i) : v.d;
}

bool ListsEqual(const Value& a, const Value& b);

bool Equal(const Value& a, const Value& b) {
  using T = Value::Type;
  if (Numeric(a) && Numeric(b)) {
    if (a.type == T::kInt && b.type == T::kInt) return a.i == b.i;
    return AsDouble(a) == AsDouble(b);
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case T::kNil:
      return true;
    case T::kBool:
      return a.b == b.b;
    case T::kString:
    case T::kBytes:
    case T::kMap:
      return a.s == b.s;
    case T::kList:
      return ListsEqual(a, b);
    default:
      return false;
  }
}

// The items of a list, literal or from data.
std::vector<Value> Items(const Value& list) {
  if (!list.list.empty() || list.s.empty()) return list.list;
  std::vector<Value> out;
  wire::ProtoReader r(list.s);
  while (r.Next()) {
    if (r.field() == wire::otlp::field::kArrayValues) out.push_back(FromAnyValue(r.bytes()));
  }
  return out;
}

bool ListsEqual(const Value& a, const Value& b) {
  std::vector<Value> x = Items(a);
  std::vector<Value> y = Items(b);
  if (x.size() != y.size()) return false;
  for (size_t k = 0; k < x.size(); ++k) {
    if (!Equal(x[k], y[k])) return false;
  }
  return true;
}

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kAdd, kSub, kMul, kDiv };

// OTTL: an ordering of values that cannot be ordered is false.
bool Compare(Op op, const Value& a, const Value& b) {
  if (op == Op::kEq) return Equal(a, b);
  if (op == Op::kNe) return !Equal(a, b);
  int c;
  if (a.type == Value::Type::kInt && b.type == Value::Type::kInt) {
    c = a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
  } else if (Numeric(a) && Numeric(b)) {
    double x = AsDouble(a);
    double y = AsDouble(b);
    if (std::isnan(x) || std::isnan(y)) return false;
    c = x < y ? -1 : x > y ? 1 : 0;
  } else if (a.type == Value::Type::kString && b.type == Value::Type::kString) {
    c = a.s.compare(b.s);
  } else if (a.type == Value::Type::kBool && b.type == Value::Type::kBool) {
    c = static_cast<int>(a.b) - static_cast<int>(b.b);
  } else {
    return false;
  }
  switch (op) {
    case Op::kLt:
      return c < 0;
    case Op::kLe:
      return c <= 0;
    case Op::kGt:
      return c > 0;
    case Op::kGe:
      return c >= 0;
    default:
      return false;
  }
}

class Literal final : public Node {
 public:
  explicit Literal(Value v) : v_(std::move(v)) {}
  Status Eval(const Item&, Value* out) const override {
    *out = v_;
    return Status::Ok();
  }

 private:
  Value v_;
};

class PathNode final : public Node {
 public:
  explicit PathNode(Path p) : path_(std::move(p)) {}
  Status Eval(const Item& item, Value* out) const override {
    *out = item.Get(path_);
    return Status::Ok();
  }
  const Path& path() const { return path_; }

 private:
  Path path_;
};

class Logical final : public Node {
 public:
  Logical(bool is_and, std::vector<std::unique_ptr<Node>> parts)
      : and_(is_and), parts_(std::move(parts)) {}
  Status Eval(const Item& item, Value* out) const override {
    for (const auto& p : parts_) {
      Value v;
      SLUICE_RETURN_IF_ERROR(p->Eval(item, &v));
      if (v.type != Value::Type::kBool) {
        return Status::InvalidArgument(std::string(and_ ? "and" : "or") + " needs bools, got " +
                                       TypeName(v));
      }
      if (v.b != and_) {  // false in an and, true in an or: decided
        *out = Value::Bool(v.b);
        return Status::Ok();
      }
    }
    *out = Value::Bool(and_);
    return Status::Ok();
  }

 private:
  bool and_;
  std::vector<std::unique_ptr<Node>> parts_;
};

class NotNode final : public Node {
 public:
  explicit NotNode(std::unique_ptr<Node> x) : x_(std::move(x)) {}
  Status Eval(const Item& item, Value* out) const override {
    Value v;
    SLUICE_RETURN_IF_ERROR(x_->Eval(item, &v));
    if (v.type != Value::Type::kBool) {
      return Status::InvalidArgument(std::string("not needs a bool, got ") + TypeName(v));
    }
    *out = Value::Bool(!v.b);
    return Status::Ok();
  }

 private:
  std::unique_ptr<Node> x_;
};

class Binary final : public Node {
 public:
  Binary(Op op, std::unique_ptr<Node> l, std::unique_ptr<Node> r)
      : op_(op), l_(std::move(l)), r_(std::move(r)) {}
  Status Eval(const Item& item, Value* out) const override {
    Value a;
    Value b;
    SLUICE_RETURN_IF_ERROR(l_->Eval(item, &a));
    SLUICE_RETURN_IF_ERROR(r_->Eval(item, &b));
    if (op_ <= Op::kGe) {
      *out = Value::Bool(Compare(op_, a, b));
      return Status::Ok();
    }
    if (!Numeric(a) || !Numeric(b)) {
      return Status::InvalidArgument(std::string("arithmetic needs numbers, got ") + TypeName(a) +
                                     " and " + TypeName(b));
    }
    if (a.type == Value::Type::kInt && b.type == Value::Type::kInt) {
      // Wrapping, as two's complement does, rather than undefined overflow.
      auto x = static_cast<uint64_t>(a.i);
      auto y = static_cast<uint64_t>(b.i);
      switch (op_) {
        case Op::kAdd:
          *out = Value::Int(static_cast<int64_t>(x + y));
          return Status::Ok();
        case Op::kSub:
          *out = Value::Int(static_cast<int64_t>(x - y));
          return Status::Ok();
        case Op::kMul:
          *out = Value::Int(static_cast<int64_t>(x * y));
          return Status::Ok();
        default:
          if (b.i == 0) return Status::InvalidArgument("division by zero");
          if (a.i == INT64_MIN && b.i == -1) {
            *out = Value::Int(INT64_MIN);
            return Status::Ok();
          }
          *out = Value::Int(a.i / b.i);
          return Status::Ok();
      }
    }
    double x = AsDouble(a);
    double y = AsDouble(b);
    switch (op_) {
      case Op::kAdd:
        *out = Value::Double(x + y);
        break;
      case Op::kSub:
        *out = Value::Double(x - y);
        break;
      case Op::kMul:
        *out = Value::Double(x * y);
        break;
      default:
        if (y == 0) return Status::InvalidArgument("division by zero");
        *out = Value::Double(x / y);
        break;
    }
    return Status::Ok();
  }

 private:
  Op op_;
  std::unique_ptr<Node> l_;
  std::unique_ptr<Node> r_;
};

class Negate final : public Node {
 public:
  explicit Negate(std::unique_ptr<Node> x) : x_(std::move(x)) {}
  Status Eval(const Item& item, Value* out) const override {
    Value v;
    SLUICE_RETURN_IF_ERROR(x_->Eval(item, &v));
    if (v.type == Value::Type::kInt) {
      *out = Value::Int(static_cast<int64_t>(0 - static_cast<uint64_t>(v.i)));
    } else if (v.type == Value::Type::kDouble) {
      *out = Value::Double(-v.d);
    } else {
      return Status::InvalidArgument(std::string("cannot negate ") + TypeName(v));
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<Node> x_;
};

class ListNode final : public Node {
 public:
  explicit ListNode(std::vector<std::unique_ptr<Node>> items) : items_(std::move(items)) {}
  Status Eval(const Item& item, Value* out) const override {
    Value v;
    v.type = Value::Type::kList;
    for (const auto& n : items_) {
      Value x;
      SLUICE_RETURN_IF_ERROR(n->Eval(item, &x));
      v.list.push_back(std::move(x));
    }
    *out = std::move(v);
    return Status::Ok();
  }

 private:
  std::vector<std::unique_ptr<Node>> items_;
};

// IsMatch(target, "pattern"): RE2 partial match, as OTTL's (Go regexp)
// MatchString; ints, doubles and bools are matched as their text, nil and
// other types never match.
class IsMatchNode final : public Node {
 public:
  IsMatchNode(std::unique_ptr<Node> target, Pattern re)
      : target_(std::move(target)), re_(std::move(re)) {}
  Status Eval(const Item& item, Value* out) const override {
    Value v;
    SLUICE_RETURN_IF_ERROR(target_->Eval(item, &v));
    std::string text;
    std::string_view subject;
    switch (v.type) {
      case Value::Type::kString:
        subject = v.s;
        break;
      case Value::Type::kInt:
        text = std::to_string(v.i);
        subject = text;
        break;
      case Value::Type::kDouble: {
        char buf[32];
        int n = std::snprintf(buf, sizeof buf, "%.17g", v.d);
        text.assign(buf, static_cast<size_t>(n));
        subject = text;
        break;
      }
      case Value::Type::kBool:
        subject = v.b ? "true" : "false";
        break;
      default:
        *out = Value::Bool(false);
        return Status::Ok();
    }
    *out = Value::Bool(re_.Matches(subject));
    return Status::Ok();
  }

 private:
  std::unique_ptr<Node> target_;
  Pattern re_;
};

// ContainsValue(list, value): whether the list holds an item equal to value.
class ContainsNode final : public Node {
 public:
  ContainsNode(std::unique_ptr<Node> list, std::unique_ptr<Node> value)
      : list_(std::move(list)), value_(std::move(value)) {}
  Status Eval(const Item& item, Value* out) const override {
    Value l;
    Value v;
    SLUICE_RETURN_IF_ERROR(list_->Eval(item, &l));
    SLUICE_RETURN_IF_ERROR(value_->Eval(item, &v));
    if (l.type != Value::Type::kList) {
      return Status::InvalidArgument(std::string("ContainsValue needs a list, got ") + TypeName(l));
    }
    bool found = false;
    for (const Value& x : Items(l)) found = found || Equal(x, v);
    *out = Value::Bool(found);
    return Status::Ok();
  }

 private:
  std::unique_ptr<Node> list_;
  std::unique_ptr<Node> value_;
};

// IsString(x), IsInt(x), ...: the type of a value.
class IsTypeNode final : public Node {
 public:
  IsTypeNode(std::unique_ptr<Node> x, Value::Type t) : x_(std::move(x)), t_(t) {}
  Status Eval(const Item& item, Value* out) const override {
    Value v;
    SLUICE_RETURN_IF_ERROR(x_->Eval(item, &v));
    *out = Value::Bool(v.type == t_);
    return Status::Ok();
  }

 private:
  std::unique_ptr<Node> x_;
  Value::Type t_;
};

// ---------------------------------------------------------------------------
// Names

const std::map<std::string, int64_t, std::less<>>& Enums() {
  static const auto* m = new std::map<std::string, int64_t, std::less<>>{
      {"SPAN_KIND_UNSPECIFIED", 0},
      {"SPAN_KIND_INTERNAL", 1},
      {"SPAN_KIND_SERVER", 2},
      {"SPAN_KIND_CLIENT", 3},
      {"SPAN_KIND_PRODUCER", 4},
      {"SPAN_KIND_CONSUMER", 5},
      {"STATUS_CODE_UNSET", 0},
      {"STATUS_CODE_OK", 1},
      {"STATUS_CODE_ERROR", 2},
      {"SEVERITY_NUMBER_UNSPECIFIED", 0},
      {"SEVERITY_NUMBER_TRACE", 1},
      {"SEVERITY_NUMBER_TRACE2", 2},
      {"SEVERITY_NUMBER_TRACE3", 3},
      {"SEVERITY_NUMBER_TRACE4", 4},
      {"SEVERITY_NUMBER_DEBUG", 5},
      {"SEVERITY_NUMBER_DEBUG2", 6},
      {"SEVERITY_NUMBER_DEBUG3", 7},
      {"SEVERITY_NUMBER_DEBUG4", 8},
      {"SEVERITY_NUMBER_INFO", 9},
      {"SEVERITY_NUMBER_INFO2", 10},
      {"SEVERITY_NUMBER_INFO3", 11},
      {"SEVERITY_NUMBER_INFO4", 12},
      {"SEVERITY_NUMBER_WARN", 13},
      {"SEVERITY_NUMBER_WARN2", 14},
      {"SEVERITY_NUMBER_WARN3", 15},
      {"SEVERITY_NUMBER_WARN4", 16},
      {"SEVERITY_NUMBER_ERROR", 17},
      {"SEVERITY_NUMBER_ERROR2", 18},
      {"SEVERITY_NUMBER_ERROR3", 19},
      {"SEVERITY_NUMBER_ERROR4", 20},
      {"SEVERITY_NUMBER_FATAL", 21},
      {"SEVERITY_NUMBER_FATAL2", 22},
      {"SEVERITY_NUMBER_FATAL3", 23},
      {"SEVERITY_NUMBER_FATAL4", 24},
      {"METRIC_DATA_TYPE_NONE", 0},
      {"METRIC_DATA_TYPE_GAUGE", 1},
      {"METRIC_DATA_TYPE_SUM", 2},
      {"METRIC_DATA_TYPE_HISTOGRAM", 3},
      {"METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4},
      {"METRIC_DATA_TYPE_SUMMARY", 5},
  };
  return *m;
}

struct PathName {
  const char* name;  // without keys
  Field field;
  bool keyed;  // takes [..] keys
};

// What each context offers: its own path prefix ("span.name"), how
// messages name its item, and its paths by their OTTL names.
struct ContextInfo {
  const char* prefix;
  const char* item;
  std::vector<PathName> paths;
};

const ContextInfo& InfoOf(ContextKind kind) {
  static const std::vector<PathName> kCommon = {
      {"resource.attributes", Field::kResourceAttributes, true},
      {"instrumentation_scope.attributes", Field::kScopeAttributes, true},
      {"instrumentation_scope.name", Field::kScopeName, false},
      {"instrumentation_scope.version", Field::kScopeVersion, false},
  };
  auto with_common = [](std::vector<PathName> own) {
    own.insert(own.end(), kCommon.begin(), kCommon.end());
    return own;
  };
  // In ContextKind's order.
  static const ContextInfo kInfo[] = {
      {"span", "a span",
       with_common({
           {"attributes", Field::kAttributes, true},
           {"name", Field::kName, false},
           {"kind", Field::kKind, false},
           {"status.code", Field::kStatusCode, false},
           {"status.message", Field::kStatusMessage, false},
           {"start_time_unix_nano", Field::kStartTime, false},
           {"end_time_unix_nano", Field::kEndTime, false},
           {"trace_id.string", Field::kTraceIdString, false},
           {"span_id.string", Field::kSpanIdString, false},
           {"parent_span_id.string", Field::kParentSpanIdString, false},
           {"trace_state", Field::kTraceState, false},
           {"dropped_attributes_count", Field::kDroppedAttributesCount, false},
       })},
      {"spanevent", "a span event",
       with_common({
           {"attributes", Field::kAttributes, true},
           {"name", Field::kName, false},
           {"time_unix_nano", Field::kTime, false},
           {"dropped_attributes_count", Field::kDroppedAttributesCount, false},
       })},
      {"log", "a log record",
       with_common({
           {"attributes", Field::kAttributes, true},
           {"body", Field::kBody, true},
           {"severity_number", Field::kSeverityNumber, false},
           {"severity_text", Field::kSeverityText, false},
           {"time_unix_nano", Field::kTime, false},
           {"observed_time_unix_nano", Field::kObservedTime, false},
           {"trace_id.string", Field::kTraceIdString, false},
           {"span_id.string", Field::kSpanIdString, false},
           {"dropped_attributes_count", Field::kDroppedAttributesCount, false},
       })},
      {"metric", "a metric",
       with_common({
           {"name", Field::kName, false},
           {"type", Field::kMetricType, false},
           {"unit", Field::kMetricUnit, false},
           {"description", Field::kMetricDescription, false},
       })},
      {"datapoint", "a data point",
       with_common({
           {"attributes", Field::kAttributes, true},
           {"time_unix_nano", Field::kTime, false},
           {"start_time_unix_nano", Field::kStartTime, false},
           {"metric.name", Field::kName, false},
           {"metric.type", Field::kMetricType, false},
           {"metric.unit", Field::kMetricUnit, false},
       })},
      {"resource",
       "a resource",
       {
           {"attributes", Field::kResourceAttributes, true},
           {"resource.attributes", Field::kResourceAttributes, true},
       }},
      {"scope", "a scope",
       with_common({
           {"name", Field::kScopeName, false},
           {"version", Field::kScopeVersion, false},
           {"attributes", Field::kScopeAttributes, true},
       })},
  };
  static_assert(std::size(kInfo) == static_cast<size_t>(ContextKind::kScope) + 1);
  return kInfo[static_cast<size_t>(kind)];
}

// ---------------------------------------------------------------------------
// Lexer and parser

enum class Tok {
  kEnd,
  kIdent,
  kString,
  kInt,
  kFloat,
  kBytes,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
  kOp,  // == != < <= > >= + - * /
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;   // identifier, operator, or the decoded string
  size_t column = 0;  // 1-based
};

class Parser {
 public:
  Parser(std::string_view text, ContextKind kind) : text_(text), kind_(kind) {}

  // editor "(" args ")" ("where" condition)?
  Result<detail::ParsedStatement> ParseStatement() {
    detail::ParsedStatement st;
    if (!Advance()) return Error();
    if (tok_.kind != Tok::kIdent) {
      Fail(tok_.column, "expected an editor such as set(...)");
      return Error();
    }
    st.editor = tok_.text;
    st.editor_column = tok_.column;
    if (!Advance()) return Error();
    if (tok_.kind != Tok::kLParen) {
      Fail(tok_.column, "expected \"(\" after " + st.editor);
      return Error();
    }
    if (!Advance()) return Error();
    while (tok_.kind != Tok::kRParen) {
      detail::Arg arg;
      Token first = tok_;
      arg.column = first.column;
      auto node = ParseOr();
      if (!node) return Error();
      if (auto* p = dynamic_cast<const PathNode*>(node.get())) {
        arg.is_path = true;
        arg.path = p->path();
      }
      if (first.kind == Tok::kString && (tok_.kind == Tok::kComma || tok_.kind == Tok::kRParen)) {
        arg.is_string_literal = true;
        arg.literal = first.text;
      }
      if (first.kind == Tok::kInt && (tok_.kind == Tok::kComma || tok_.kind == Tok::kRParen)) {
        arg.is_int_literal = true;
        arg.int_literal = std::strtoll(first.text.c_str(), nullptr, 10);
      }
      arg.node = std::move(node);
      st.args.push_back(std::move(arg));
      if (tok_.kind == Tok::kComma) {
        if (!Advance()) return Error();
      } else if (tok_.kind != Tok::kRParen) {
        Fail(tok_.column, "expected \",\" or \")\" in the arguments of " + st.editor);
        return Error();
      }
    }
    if (!Advance()) return Error();
    if (tok_.kind == Tok::kIdent && tok_.text == "where") {
      if (!Advance()) return Error();
      auto cond = ParseOr();
      if (!cond) return Error();
      st.where = std::move(cond);
    }
    if (tok_.kind != Tok::kEnd) {
      Fail(tok_.column, "unexpected \"" + tok_.text + "\" after the statement (only a " +
                            "\"where\" condition may follow)");
      return Error();
    }
    return st;
  }

  Result<std::unique_ptr<Node>> Parse() {
    if (!Advance()) return Error();
    auto root = ParseOr();
    if (!root) return Error();
    if (tok_.kind != Tok::kEnd) {
      Fail(tok_.column, "unexpected \"" + tok_.text + "\" after the end of the condition");
      return Error();
    }
    return root;
  }

 private:
  Status Error() const {
    return Status::InvalidArgument("column " + std::to_string(error_column_) + ": " + error_);
  }
  std::nullptr_t Fail(size_t column, std::string message) {
    if (error_.empty()) {
      error_column_ = column;
      error_ = std::move(message);
    }
    return nullptr;
  }

  // Reads the next token into tok_; false after a lexical error.
  bool Advance() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
    tok_ = Token{};
    tok_.column = pos_ + 1;
    if (pos_ >= text_.size()) return true;
    char c = text_[pos_];
    auto ident_start = [](char ch) {
      return std::isalpha(static_cast<unsigned char>(ch)) || ch == '_';
    };
    auto ident_char = [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
    };
    if (c == '"') return LexString();
    if (c == '0' && pos_ + 1 < text_.size() && (text_[pos_ + 1] == 'x' || text_[pos_ + 1] == 'X')) {
      size_t start = pos_;
      pos_ += 2;
      std::string bytes;
      while (pos_ + 1 < text_.size() && std::isxdigit(static_cast<unsigned char>(text_[pos_])) &&
             std::isxdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
        bytes.push_back(
            static_cast<char>(std::stoi(std::string(text_.substr(pos_, 2)), nullptr, 16)));
        pos_ += 2;
      }
      if (pos_ < text_.size() && std::isxdigit(static_cast<unsigned char>(text_[pos_]))) {
        Fail(start + 1, "a bytes literal needs an even number of hex digits");
        return false;
      }
      tok_.kind = Tok::kBytes;
      tok_.text = std::move(bytes);
      return true;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t start = pos_;
      bool is_float = false;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '.') {
        is_float = true;
        ++pos_;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      }
      if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
        is_float = true;
        ++pos_;
        if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      }
      tok_.kind = is_float ? Tok::kFloat : Tok::kInt;
      tok_.text = std::string(text_.substr(start, pos_ - start));
      if (pos_ < text_.size() && ident_char(text_[pos_])) {
        Fail(start + 1, "malformed number \"" + tok_.text + text_[pos_] + "\"");
        return false;
      }
      return true;
    }
    if (ident_start(c)) {
      size_t start = pos_;
      while (pos_ < text_.size() && ident_char(text_[pos_])) ++pos_;
      tok_.kind = Tok::kIdent;
      tok_.text = std::string(text_.substr(start, pos_ - start));
      return true;
    }
    ++pos_;
    switch (c) {
      case '(':
        tok_.kind = Tok::kLParen;
        break;
      case ')':
        tok_.kind = Tok::kRParen;
        break;
      case '[':
        tok_.kind = Tok::kLBracket;
        break;
      case ']':
        tok_.kind = Tok::kRBracket;
        break;
      case ',':
        tok_.kind = Tok::kComma;
        break;
      case '.':
        tok_.kind = Tok::kDot;
        break;
      case '+':
      case '-':
      case '*':
      case '/':
        tok_.kind = Tok::kOp;
        tok_.text = std::string(1, c);
        break;
      case '=':
      case '!':
        if (pos_ < text_.size() && text_[pos_] == '=') {
          ++pos_;
          tok_.kind = Tok::kOp;
          tok_.text = std::string(1, c) + "=";
          break;
        }
        Fail(tok_.column, std::string("\"") + c + "\" must be followed by \"=\"");
        return false;
      case '<':
      case '>':
        tok_.kind = Tok::kOp;
        tok_.text = std::string(1, c);
        if (pos_ < text_.size() && text_[pos_] == '=') {
          ++pos_;
          tok_.text += "=";
        }
        break;
      default:
        Fail(tok_.column, std::string("unexpected character \"") + c + "\"");
        return false;
    }
    if (tok_.text.empty()) tok_.text = std::string(1, c);
    return true;
  }

  bool LexString() {
    size_t start = pos_;
    ++pos_;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) break;
        char e = text_[pos_++];
        switch (e) {
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case '"':
          case '\\':
            out.push_back(e);
            break;
          default:
            // Kept as written, so regex escapes ("\\d", "\.") reach RE2.
            out.push_back('\\');
            out.push_back(e);
            break;
        }
        continue;
      }
      out.push_back(c);
    }
    if (pos_ >= text_.size()) {
      Fail(start + 1, "unterminated string");
      return false;
    }
    ++pos_;
    tok_.kind = Tok::kString;
    tok_.text = std::move(out);
    return true;
  }

  bool IsKeyword(const char* word) const { return tok_.kind == Tok::kIdent && tok_.text == word; }

  std::unique_ptr<Node> ParseOr() {
    std::vector<std::unique_ptr<Node>> parts;
    auto first = ParseAnd();
    if (!first) return nullptr;
    parts.push_back(std::move(first));
    while (IsKeyword("or")) {
      if (!Advance()) return nullptr;
      auto next = ParseAnd();
      if (!next) return nullptr;
      parts.push_back(std::move(next));
    }
    if (parts.size() == 1) return std::move(parts[0]);
    return std::make_unique<Logical>(false, std::move(parts));
  }

  std::unique_ptr<Node> ParseAnd() {
    std::vector<std::unique_ptr<Node>> parts;
    auto first = ParseNot();
    if (!first) return nullptr;
    parts.push_back(std::move(first));
    while (IsKeyword("and")) {
      if (!Advance()) return nullptr;
      auto next = ParseNot();
      if (!next) return nullptr;
      parts.push_back(std::move(next));
    }
    if (parts.size() == 1) return std::move(parts[0]);
    return std::make_unique<Logical>(true, std::move(parts));
  }

  std::unique_ptr<Node> ParseNot() {
    if (IsKeyword("not")) {
      if (++depth_ > kMaxDepth) return Fail(tok_.column, "nested too deeply");
      if (!Advance()) return nullptr;
      auto x = ParseNot();
      --depth_;
      if (!x) return nullptr;
      return std::make_unique<NotNode>(std::move(x));
    }
    return ParseComparison();
  }

  std::unique_ptr<Node> ParseComparison() {
    auto left = ParseSum();
    if (!left) return nullptr;
    if (tok_.kind == Tok::kOp) {
      static const std::map<std::string, Op, std::less<>> kOps = {{"==", Op::kEq}, {"!=", Op::kNe},
                                                                  {"<", Op::kLt},  {"<=", Op::kLe},
                                                                  {">", Op::kGt},  {">=", Op::kGe}};
      auto it = kOps.find(tok_.text);
      if (it == kOps.end()) return left;
      if (!Advance()) return nullptr;
      auto right = ParseSum();
      if (!right) return nullptr;
      if (tok_.kind == Tok::kOp && kOps.count(tok_.text) > 0) {
        return Fail(tok_.column, "comparisons do not chain; join them with and/or");
      }
      return std::make_unique<Binary>(it->second, std::move(left), std::move(right));
    }
    return left;
  }

  std::unique_ptr<Node> ParseSum() {
    auto left = ParseTerm();
    if (!left) return nullptr;
    while (tok_.kind == Tok::kOp && (tok_.text == "+" || tok_.text == "-")) {
      Op op = tok_.text == "+" ? Op::kAdd : Op::kSub;
      if (!Advance()) return nullptr;
      auto right = ParseTerm();
      if (!right) return nullptr;
      left = std::make_unique<Binary>(op, std::move(left), std::move(right));
    }
    return left;
  }

  std::unique_ptr<Node> ParseTerm() {
    auto left = ParseUnary();
    if (!left) return nullptr;
    while (tok_.kind == Tok::kOp && (tok_.text == "*" || tok_.text == "/")) {
      Op op = tok_.text == "*" ? Op::kMul : Op::kDiv;
      if (!Advance()) return nullptr;
      auto right = ParseUnary();
      if (!right) return nullptr;
      left = std::make_unique<Binary>(op, std::move(left), std::move(right));
    }
    return left;
  }

  std::unique_ptr<Node> ParseUnary() {
    if (tok_.kind == Tok::kOp && tok_.text == "-") {
      if (++depth_ > kMaxDepth) return Fail(tok_.column, "nested too deeply");
      if (!Advance()) return nullptr;
      auto x = ParseUnary();
      --depth_;
      if (!x) return nullptr;
      return std::make_unique<Negate>(std::move(x));
    }
    return ParsePrimary();
  }

  std::unique_ptr<Node> ParsePrimary() {
    Token t = tok_;
    switch (t.kind) {
      case Tok::kEnd:
        return Fail(t.column, "expected a value, path or function, found the end");
      case Tok::kString:
        if (!Advance()) return nullptr;
        return std::make_unique<Literal>(Value::Owned(t.text));
      case Tok::kBytes: {
        if (!Advance()) return nullptr;
        Value v = Value::Owned(t.text);
        v.type = Value::Type::kBytes;
        return std::make_unique<Literal>(std::move(v));
      }
      case Tok::kInt: {
        if (!Advance()) return nullptr;
        errno = 0;
        char* end = nullptr;
        long long v = std::strtoll(t.text.c_str(), &end, 10);
        if (errno == ERANGE) return Fail(t.column, "integer " + t.text + " does not fit 64 bits");
        return std::make_unique<Literal>(Value::Int(v));
      }
      case Tok::kFloat:
        if (!Advance()) return nullptr;
        return std::make_unique<Literal>(Value::Double(std::strtod(t.text.c_str(), nullptr)));
      case Tok::kLParen: {
        if (++depth_ > kMaxDepth) return Fail(t.column, "nested too deeply");
        if (!Advance()) return nullptr;
        auto x = ParseOr();
        --depth_;
        if (!x) return nullptr;
        if (tok_.kind != Tok::kRParen) return Fail(tok_.column, "expected \")\"");
        if (!Advance()) return nullptr;
        return x;
      }
      case Tok::kLBracket: {
        if (++depth_ > kMaxDepth) return Fail(t.column, "nested too deeply");
        if (!Advance()) return nullptr;
        std::vector<std::unique_ptr<Node>> items;
        while (tok_.kind != Tok::kRBracket) {
          auto x = ParseOr();
          if (!x) return nullptr;
          items.push_back(std::move(x));
          if (tok_.kind == Tok::kComma) {
            if (!Advance()) return nullptr;
          } else if (tok_.kind != Tok::kRBracket) {
            return Fail(tok_.column, "expected \",\" or \"]\" in a list");
          }
        }
        --depth_;
        if (!Advance()) return nullptr;
        return std::make_unique<ListNode>(std::move(items));
      }
      case Tok::kIdent:
        return ParseName();
      default:
        return Fail(t.column, "unexpected \"" + t.text + "\"");
    }
  }

  // A keyword literal, an enum, a function call or a path.
  std::unique_ptr<Node> ParseName() {
    Token t = tok_;
    if (!Advance()) return nullptr;
    if (t.text == "true" || t.text == "false") {
      return std::make_unique<Literal>(Value::Bool(t.text == "true"));
    }
    if (t.text == "nil") return std::make_unique<Literal>(Value::Nil());
    if (t.text == "and" || t.text == "or" || t.text == "not") {
      return Fail(t.column, "expected a value before \"" + t.text + "\"");
    }
    if (tok_.kind == Tok::kLParen) return ParseCall(t);
    if (std::isupper(static_cast<unsigned char>(t.text[0]))) {
      auto it = Enums().find(t.text);
      if (it != Enums().end()) return std::make_unique<Literal>(Value::Int(it->second));
      if (t.text.find('_') != std::string::npos) {
        return Fail(t.column, "unknown enum \"" + t.text +
                                  "\"; enums are SPAN_KIND_*, STATUS_CODE_*, SEVERITY_NUMBER_*, "
                                  "METRIC_DATA_TYPE_*");
      }
      return Fail(t.column, "\"" + t.text + "\" is a function name: call it with (...)");
    }
    // A path: name(.name)* ([ "key" ])*
    std::string name = t.text;
    while (tok_.kind == Tok::kDot) {
      if (!Advance()) return nullptr;
      if (tok_.kind != Tok::kIdent) return Fail(tok_.column, "expected a name after \".\"");
      name += "." + tok_.text;
      if (!Advance()) return nullptr;
    }
    std::vector<std::string> keys;
    while (tok_.kind == Tok::kLBracket) {
      if (!Advance()) return nullptr;
      if (tok_.kind != Tok::kString) return Fail(tok_.column, "expected a \"key\" in [...]");
      keys.push_back(tok_.text);
      if (!Advance()) return nullptr;
      if (tok_.kind != Tok::kRBracket) return Fail(tok_.column, "expected \"]\"");
      if (!Advance()) return nullptr;
    }
    return ResolvePath(t.column, name, std::move(keys));
  }

  std::unique_ptr<Node> ResolvePath(size_t column, std::string name,
                                    std::vector<std::string> keys) {
    const ContextInfo& info = InfoOf(kind_);
    std::string prefix = std::string(info.prefix) + ".";
    const auto& paths = info.paths;
    auto find = [&](const std::string& n) -> const PathName* {
      for (const PathName& p : paths) {
        if (n == p.name) return &p;
      }
      return nullptr;
    };
    const PathName* found = find(name);
    if (found == nullptr && name.rfind(prefix, 0) == 0) found = find(name.substr(prefix.size()));
    if (found == nullptr) {
      std::string names;
      for (const PathName& p : paths) {
        if (!names.empty()) names += ", ";
        names += p.name;
        if (p.keyed) names += "[...]";
      }
      return Fail(column, "unknown path \"" + name + "\"; " + info.item + " has: " + names);
    }
    if (!found->keyed && !keys.empty()) {
      return Fail(column, "\"" + name + "\" takes no [\"key\"]");
    }
    std::string text = name;
    for (const auto& k : keys) text += "[\"" + k + "\"]";
    return std::make_unique<PathNode>(Path{found->field, std::move(keys), std::move(text)});
  }

  std::unique_ptr<Node> ParseCall(const Token& name) {
    if (++depth_ > kMaxDepth) return Fail(name.column, "nested too deeply");
    if (!Advance()) return nullptr;  // past "("
    std::vector<std::unique_ptr<Node>> args;
    std::vector<Token> arg_tokens;
    while (tok_.kind != Tok::kRParen) {
      arg_tokens.push_back(tok_);
      auto x = ParseOr();
      if (!x) return nullptr;
      args.push_back(std::move(x));
      if (tok_.kind == Tok::kComma) {
        if (!Advance()) return nullptr;
      } else if (tok_.kind != Tok::kRParen) {
        return Fail(tok_.column, "expected \",\" or \")\" in the arguments of " + name.text);
      }
    }
    --depth_;
    if (!Advance()) return nullptr;
    auto arity = [&](size_t n) {
      if (args.size() == n) return true;
      Fail(name.column, name.text + " takes " + std::to_string(n) + " argument" +
                            (n == 1 ? "" : "s") + ", got " + std::to_string(args.size()));
      return false;
    };
    if (name.text == "IsMatch") {
      if (!arity(2)) return nullptr;
      if (arg_tokens[1].kind != Tok::kString) {
        return Fail(arg_tokens[1].column, "IsMatch's pattern must be a \"string\"");
      }
      Result<Pattern> re = Pattern::Compile(arg_tokens[1].text);
      if (!re.ok()) {
        return Fail(arg_tokens[1].column, "invalid regular expression: " + re.status().message());
      }
      return std::make_unique<IsMatchNode>(std::move(args[0]), std::move(re).value());
    }
    if (name.text == "ContainsValue") {
      if (!arity(2)) return nullptr;
      return std::make_unique<ContainsNode>(std::move(args[0]), std::move(args[1]));
    }
    static const std::map<std::string, Value::Type, std::less<>> kIs = {
        {"IsString", Value::Type::kString}, {"IsInt", Value::Type::kInt},
        {"IsDouble", Value::Type::kDouble}, {"IsBool", Value::Type::kBool},
        {"IsMap", Value::Type::kMap},       {"IsList", Value::Type::kList}};
    if (auto it = kIs.find(name.text); it != kIs.end()) {
      if (!arity(1)) return nullptr;
      return std::make_unique<IsTypeNode>(std::move(args[0]), it->second);
    }
    return Fail(name.column, "unknown function \"" + name.text +
                                 "\"; conditions may call IsMatch, ContainsValue, IsString, IsInt, "
                                 "IsDouble, IsBool, IsMap, IsList");
  }

  static constexpr int kMaxDepth = 64;

  std::string_view text_;
  ContextKind kind_;
  size_t pos_ = 0;
  Token tok_;
  int depth_ = 0;
  size_t error_column_ = 0;
  std::string error_;
};

}  // namespace

Result<Condition> Condition::Compile(std::string_view text, ContextKind kind) {
  Parser parser(text, kind);
  SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Node> root, parser.Parse());
  Condition c;
  c.text_ = std::string(text);
  c.root_ = std::move(root);
  return c;
}

namespace detail {

Status CheckSettable(ContextKind kind, const Path& path) {
  using F = Field;
  std::vector<Field> settable;
  switch (kind) {
    case ContextKind::kSpan:
      settable = {F::kAttributes,    F::kName,       F::kKind,      F::kStatusCode,
                  F::kStatusMessage, F::kTraceState, F::kStartTime, F::kEndTime};
      break;
    case ContextKind::kSpanEvent:
      settable = {F::kAttributes, F::kName, F::kTime};
      break;
    case ContextKind::kLog:
      settable = {F::kAttributes,   F::kBody, F::kSeverityNumber,
                  F::kSeverityText, F::kTime, F::kObservedTime};
      break;
    case ContextKind::kMetric:
      settable = {F::kName, F::kMetricUnit, F::kMetricDescription};
      break;
    case ContextKind::kDataPoint:
      settable = {F::kAttributes, F::kTime, F::kStartTime};
      break;
    case ContextKind::kResource:
      settable = {F::kResourceAttributes};
      break;
    case ContextKind::kScope:
      settable = {F::kScopeAttributes, F::kScopeName, F::kScopeVersion};
      break;
  }
  if (std::find(settable.begin(), settable.end(), path.field) != settable.end()) {
    return Status::Ok();
  }
  const ContextInfo& info = InfoOf(kind);
  if (path.field == F::kResourceAttributes) {
    return Status::InvalidArgument(path.text + " is set in the resource context, not in " +
                                   info.item + "'s");
  }
  if (path.field == F::kScopeAttributes || path.field == F::kScopeName ||
      path.field == F::kScopeVersion) {
    return Status::InvalidArgument(path.text + " is set in the scope context, not in " + info.item +
                                   "'s");
  }
  return Status::InvalidArgument(path.text + " of " + info.item + " cannot be set");
}

Result<ParsedStatement> ParseStatement(std::string_view text, ContextKind kind) {
  Parser parser(text, kind);
  return parser.ParseStatement();
}

Status Evaluate(const Node& node, const Item& item, Value* out) {
  return node.Eval(item, out);
}

}  // namespace detail

Result<bool> Condition::Evaluate(const Item& item) const {
  Value v;
  Status st = root_->Eval(item, &v);
  if (!st.ok()) return Status::InvalidArgument("condition " + text_ + ": " + st.message());
  if (v.type != Value::Type::kBool) {
    return Status::InvalidArgument("condition " + text_ + " is " + TypeName(v) + ", not a bool");
  }
  return v.b;
}

}  // namespace sluice::ottl
