#pragma once

// The parts of the OTTL parser that statements (statement.cc) build on.
// Not for use outside src/ottl.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "ottl/ottl.h"

namespace sluice::ottl {

class Node;

namespace detail {

// One argument of an editor call.
struct Arg {
  std::shared_ptr<const Node> node;
  size_t column = 0;     // 1-based, in the statement's text
  bool is_path = false;  // a bare path: `path` is set
  Path path;
  bool is_string_literal = false;  // a "string": `literal` is set
  std::string literal;
  bool is_int_literal = false;
  int64_t int_literal = 0;
};

// `editor(args...) [where condition]`.
struct ParsedStatement {
  std::string editor;
  size_t editor_column = 0;
  std::vector<Arg> args;
  std::shared_ptr<const Node> where;  // null: always
};

// InvalidArgument names the column, as Condition::Compile.
Result<ParsedStatement> ParseStatement(std::string_view text, ContextKind kind);

Status Evaluate(const Node& node, const Item& item, Value* out);

// Whether a path of `kind` can be written, and if not why ("resource
// attributes are set in the resource context").
Status CheckSettable(ContextKind kind, const Path& path);

}  // namespace detail
}  // namespace sluice::ottl
