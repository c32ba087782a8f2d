#include "ottl/pattern.h"

#include <cctype>

namespace sluice::ottl {
namespace {

bool IsMeta(char c) {
  switch (c) {
    case '.':
    case '[':
    case ']':
    case '(':
    case ')':
    case '*':
    case '+':
    case '?':
    case '{':
    case '}':
    case '|':
    case '^':
    case '$':
    case '\\':
      return true;
    default:
      return false;
  }
}

}  // namespace

Result<Pattern> Pattern::Compile(std::string_view text) {
  Pattern p;
  p.text_ = std::string(text);
  auto re = std::make_shared<re2::RE2>(p.text_, re2::RE2::Quiet);
  if (!re->ok()) return Status::InvalidArgument(re->error());
  p.re_ = std::move(re);
  // Plain text between an optional ^ and an optional $; `\` before
  // punctuation is that punctuation (an escaped letter is a class, `\d`).
  std::string_view body = text;
  bool start = !body.empty() && body.front() == '^';
  if (start) body.remove_prefix(1);
  bool end = false;
  std::string literal;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\\') {
      if (i + 1 >= body.size()) return p;
      char next = body[i + 1];
      if (std::isalnum(static_cast<unsigned char>(next)) ||
          static_cast<unsigned char>(next) >= 0x80) {
        return p;
      }
      literal.push_back(next);
      ++i;
      continue;
    }
    if (c == '$' && i + 1 == body.size()) {
      end = true;
      continue;
    }
    if (IsMeta(c) || static_cast<unsigned char>(c) >= 0x80) return p;
    literal.push_back(c);
  }
  p.literal_text_ = std::move(literal);
  p.literal_ = start && end ? Literal::kExact
               : start      ? Literal::kPrefix
               : end        ? Literal::kSuffix
                            : Literal::kContains;
  return p;
}

bool Pattern::Matches(std::string_view value) const {
  switch (literal_) {
    case Literal::kNone:
      return re2::RE2::PartialMatch(value, *re_);
    case Literal::kContains:
      return value.find(literal_text_) != std::string_view::npos;
    case Literal::kPrefix:
      return value.starts_with(literal_text_);
    case Literal::kSuffix:
      return value.ends_with(literal_text_);
    case Literal::kExact:
      return value == literal_text_;
  }
  return false;
}

}  // namespace sluice::ottl
