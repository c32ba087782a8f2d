#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::ottl {

// A regular expression in RE2 syntax, matched anywhere in a value unless it
// anchors itself: the semantics of OTTL's IsMatch and of the Collector's Go
// patterns (regexp.MatchString). Immutable; shared by many threads.
//
// Patterns that are plain text, optionally after `^` and before `$` (as
// "^internal\." or "/health$"), are matched by comparing bytes instead of
// running RE2: processors match such patterns against every key of every
// item, and each RE2 search takes a lock on its shared DFA cache.
class Pattern {
 public:
  // InvalidArgument with RE2's message when `text` does not compile.
  static Result<Pattern> Compile(std::string_view text);

  bool Matches(std::string_view value) const;

  const std::string& text() const { return text_; }
  // The compiled expression, for captures (`extract`, `replace_pattern`).
  const re2::RE2& re() const { return *re_; }

 private:
  enum class Literal { kNone, kContains, kPrefix, kSuffix, kExact };

  std::string text_;
  Literal literal_ = Literal::kNone;
  std::string literal_text_;
  std::shared_ptr<const re2::RE2> re_;
};

// Go's regexp replacement template ($1, ${1}, $name, ${name}, $$ for a $)
// as an RE2 rewrite string (\1, \\ for a backslash) for `re`. A group that
// does not exist expands to nothing, as in Go; InvalidArgument for a group
// above 9, which RE2 rewrites cannot name.
Result<std::string> GoTemplateToRewrite(std::string_view tmpl, const re2::RE2& re);

}  // namespace sluice::ottl
