#include "relabel/selector.h"

#include <cctype>

namespace sluice::relabel {
namespace {

bool NameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool NameChar(char c) {
  return NameStart(c) || std::isdigit(static_cast<unsigned char>(c));
}

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  Status Error(const std::string& what) const {
    return Status::InvalidArgument("column " + std::to_string(pos_ + 1) + ": " + what);
  }
  void Skip() {
    while (pos_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[pos_]))) ++pos_;
  }
  bool AtEnd() {
    Skip();
    return pos_ >= t_.size();
  }
  char Peek() {
    Skip();
    return pos_ < t_.size() ? t_[pos_] : '\0';
  }
  std::string Name() {
    Skip();
    size_t start = pos_;
    if (pos_ < t_.size() && NameStart(t_[pos_])) {
      ++pos_;
      while (pos_ < t_.size() && NameChar(t_[pos_])) ++pos_;
    }
    return std::string(t_.substr(start, pos_ - start));
  }
  Result<std::string> String() {
    Skip();
    if (pos_ >= t_.size()) return Error("expected a quoted string");
    char q = t_[pos_];
    if (q != '"' && q != '\'' && q != '`') return Error("expected a quoted string");
    ++pos_;
    std::string out;
    while (pos_ < t_.size() && t_[pos_] != q) {
      char c = t_[pos_++];
      if (c == '\\' && q != '`' && pos_ < t_.size()) {
        char e = t_[pos_++];
        switch (e) {
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          default:  // \\, \", \' and, for regexes, \. \d ... kept as written
            if (e != q && e != '\\') out.push_back('\\');
            out.push_back(e);
        }
        continue;
      }
      out.push_back(c);
    }
    if (pos_ >= t_.size()) return Error("unterminated string");
    ++pos_;
    return out;
  }
  size_t pos_ = 0;

 private:
  std::string_view t_;
};

}  // namespace

Result<Selector> Selector::Parse(std::string_view text) {
  Selector s;
  s.text_ = std::string(text);
  Parser p(text);
  std::string metric = p.Name();
  if (!metric.empty()) {
    s.matchers_.push_back({"__name__", Matcher::Op::kEqual, metric, nullptr});
  }
  if (p.Peek() == '{') {
    ++p.pos_;
    while (p.Peek() != '}') {
      std::string name = p.Name();
      if (name.empty()) return p.Error("expected a label name");
      p.Skip();
      Matcher m{name, Matcher::Op::kEqual, "", nullptr};
      std::string_view rest = text.substr(p.pos_);
      if (rest.starts_with("=~")) {
        m.op = Matcher::Op::kRegex;
        p.pos_ += 2;
      } else if (rest.starts_with("!~")) {
        m.op = Matcher::Op::kNotRegex;
        p.pos_ += 2;
      } else if (rest.starts_with("!=")) {
        m.op = Matcher::Op::kNotEqual;
        p.pos_ += 2;
      } else if (rest.starts_with("=")) {
        p.pos_ += 1;
      } else {
        return p.Error("expected =, !=, =~ or !~ after " + name);
      }
      size_t value_column = p.pos_;
      SLUICE_ASSIGN_OR_RETURN(m.value, p.String());
      if (m.op == Matcher::Op::kRegex || m.op == Matcher::Op::kNotRegex) {
        auto re = std::make_shared<re2::RE2>("^(?:" + m.value + ")$", re2::RE2::Quiet);
        if (!re->ok()) {
          return Status::InvalidArgument("column " + std::to_string(value_column + 1) +
                                         ": invalid regular expression: " + re->error());
        }
        m.re = std::move(re);
      }
      s.matchers_.push_back(std::move(m));
      if (p.Peek() == ',') {
        ++p.pos_;
        continue;
      }
      if (p.Peek() != '}') return p.Error("expected \",\" or \"}\"");
    }
    ++p.pos_;
  }
  if (!p.AtEnd()) return p.Error("unexpected text after the selector");
  if (s.matchers_.empty()) return p.Error("expected a metric name or {label matchers}");
  return s;
}

bool Selector::Matches(const LabelSet& labels) const {
  for (const Matcher& m : matchers_) {
    std::string_view v = labels.Get(m.name);
    bool ok = true;
    switch (m.op) {
      case Matcher::Op::kEqual:
        ok = v == m.value;
        break;
      case Matcher::Op::kNotEqual:
        ok = v != m.value;
        break;
      case Matcher::Op::kRegex:
        ok = re2::RE2::FullMatch(v, *m.re);
        break;
      case Matcher::Op::kNotRegex:
        ok = !re2::RE2::FullMatch(v, *m.re);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace sluice::relabel
