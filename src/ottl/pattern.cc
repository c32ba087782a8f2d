#include "ottl/pattern.h"

#include <algorithm>
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

Result<std::string> GoTemplateToRewrite(std::string_view tmpl, const re2::RE2& re) {
  std::string out;
  const auto& names = re.NamedCapturingGroups();
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c == '\\') {
      out += "\\\\";
      continue;
    }
    if (c != '$') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string name;
    if (i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      size_t close = tmpl.find('}', i + 2);
      if (close == std::string_view::npos) {
        out.push_back('$');
        continue;
      }
      name = std::string(tmpl.substr(i + 2, close - i - 2));
      i = close;
    } else {
      size_t j = i + 1;
      while (j < tmpl.size() &&
             (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) {
        ++j;
      }
      if (j == i + 1) {
        out.push_back('$');
        continue;
      }
      name = std::string(tmpl.substr(i + 1, j - i - 1));
      i = j - 1;
    }
    int index = -1;
    if (!name.empty() &&
        std::all_of(name.begin(), name.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      index = std::stoi(name);
      if (index > re.NumberOfCapturingGroups()) index = -1;  // Go: empty
    } else if (auto it = names.find(name); it != names.end()) {
      index = it->second;
    }
    if (index < 0) continue;  // an unknown group expands to nothing, as in Go
    if (index > 9) {
      return Status::InvalidArgument("the replacement refers to group " + std::to_string(index) +
                                     "; at most 9 groups can be referred to");
    }
    out.push_back('\\');
    out.push_back(static_cast<char>('0' + index));
  }
  return out;
}

}  // namespace sluice::ottl
