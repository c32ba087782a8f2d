#pragma once

#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "relabel/labels.h"

namespace sluice::relabel {

// A PromQL series selector, as vmagent's `if:` takes:
//   metric_name
//   {label="v", other!="w", path=~"/api/.*", code!~"2.."}
//   metric_name{label="v"}
// Strings in double quotes, single quotes or backquotes; regexes are RE2 and
// anchored at both ends, as PromQL's. A series matches when every matcher
// holds (an absent label is "").
class Selector {
 public:
  // InvalidArgument names the column of the problem.
  static Result<Selector> Parse(std::string_view text);
  bool Matches(const LabelSet& labels) const;
  const std::string& text() const { return text_; }

  struct Matcher {
    std::string name;  // "__name__" for the metric name
    enum class Op { kEqual, kNotEqual, kRegex, kNotRegex } op;
    std::string value;  // a regex as written, unanchored
    std::shared_ptr<const re2::RE2> re;
  };
  // Every matcher must hold; for sources that take selectors themselves (a
  // remote read).
  const std::vector<Matcher>& matchers() const { return matchers_; }

 private:
  std::string text_;
  std::vector<Matcher> matchers_;
};

}  // namespace sluice::relabel
