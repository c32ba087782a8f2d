#include "config/schema.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "base/units.h"

namespace sluice::config {

std::string Error::ToString() const {
  return where.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) + ": " +
         message;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

bool ExpandEnv(std::string_view text, const EnvLookup& env, std::string* out, std::string* error) {
  out->clear();
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      *out += text[i++];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      *out += '$';
      i += 2;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      *out += text[i++];
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string_view::npos) {
      *error = "unterminated ${...} reference";
      return false;
    }
    std::string_view ref = text.substr(i + 2, close - i - 2);
    if (ref.substr(0, 4) != "env:") {
      // Not ours: Prometheus' and OTTL's templates (${1}, ${name}) pass
      // through, so their configurations load unchanged.
      out->append(text.substr(i, close - i + 1));
      i = close + 1;
      continue;
    }
    ref.remove_prefix(4);
    std::optional<std::string> fallback;
    size_t dash = ref.find(":-");
    if (dash != std::string_view::npos) {
      fallback = std::string(ref.substr(dash + 2));
      ref = ref.substr(0, dash);
    }
    if (ref.empty() || !std::all_of(ref.begin(), ref.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      *error = "invalid environment variable name \"" + std::string(ref) + "\"";
      return false;
    }
    std::optional<std::string> value = env(std::string(ref));
    if (!value) value = fallback;
    if (!value) {
      *error = "environment variable " + std::string(ref) +
               " is not set (write ${env:" + std::string(ref) + ":-default} for a default)";
      return false;
    }
    *out += *value;
    i = close + 1;
  }
  return true;
}

Location Context::Where(const YAML::Node& node) const {
  if (!node.IsDefined()) return Location{file_, 0, 0};
  YAML::Mark m = node.Mark();
  if (m.is_null()) return Location{file_, 0, 0};
  return Location{file_, m.line + 1, m.column + 1};
}

void Context::AddError(const YAML::Node& at, std::string message) {
  errors_.push_back(Error{Where(at), std::move(message)});
}

void Context::AddError(Location where, std::string message) {
  errors_.push_back(Error{std::move(where), std::move(message)});
}

bool Context::Scalar(const YAML::Node& node, std::string* out) {
  if (!node.IsScalar()) {
    AddError(node, node.IsMap()        ? "expected a value, got a map"
                   : node.IsSequence() ? "expected a value, got a list"
                                       : "expected a value");
    return false;
  }
  std::string error;
  if (!ExpandEnv(node.Scalar(), env_, out, &error)) {
    AddError(node, error);
    return false;
  }
  return true;
}

namespace {

std::optional<YAML::Node> Load(const std::function<YAML::Node()>& load, Context& ctx,
                               const std::string& file) {
  try {
    return load();
  } catch (const YAML::BadFile&) {
    ctx.AddError(Location{file, 0, 0}, "cannot read configuration file");
  } catch (const YAML::ParserException& e) {
    ctx.AddError(Location{file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax: " + e.msg);
  } catch (const YAML::Exception& e) {
    ctx.AddError(Location{file, e.mark.line + 1, e.mark.column + 1}, e.msg);
  }
  return std::nullopt;
}

std::string BoundsText(const Bounds& b, const std::function<std::string(long double)>& fmt) {
  if (!b.min && !b.max) return "";
  if (b.min && b.max) return fmt(*b.min) + " to " + fmt(*b.max);
  if (b.min) return "at least " + fmt(*b.min);
  return "at most " + fmt(*b.max);
}

bool CheckBounds(const YAML::Node& n, Context& ctx, const Bounds& b, long double v,
                 const std::string& text, const std::function<std::string(long double)>& fmt) {
  if ((b.min && v < *b.min) || (b.max && v > *b.max)) {
    ctx.AddError(n, "value " + text + " is out of range (" + BoundsText(b, fmt) + ")");
    return false;
  }
  return true;
}

std::string FmtInt(long double v) {
  return std::to_string(static_cast<int64_t>(v));
}
std::string FmtDur(long double v) {
  return FormatDuration(std::chrono::nanoseconds(static_cast<int64_t>(v)));
}
std::string FmtBytes(long double v) {
  return FormatByteSize(static_cast<uint64_t>(v));
}

}  // namespace

std::optional<YAML::Node> LoadFile(const std::string& path, Context& ctx) {
  return Load([&] { return YAML::LoadFile(path); }, ctx, path);
}

std::optional<YAML::Node> LoadString(const std::string& text, Context& ctx) {
  return Load([&] { return YAML::Load(text); }, ctx, "<string>");
}

std::string JoinChoices(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  return out.empty() ? "(none)" : out;
}

std::string FormatDurationText(std::chrono::nanoseconds d) {
  return FormatDuration(d);
}
std::string FormatBytesText(uint64_t b) {
  return FormatByteSize(b);
}

namespace internal {

std::string QuoteList(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back("\"" + s + "\"");
  return JoinChoices(q);
}

bool ParseString(const YAML::Node& n, Context& ctx, std::string* out) {
  return ctx.Scalar(n, out);
}

bool ParseBool(const YAML::Node& n, Context& ctx, bool* out) {
  std::string s;
  if (!ctx.Scalar(n, &s)) return false;
  if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") {
    *out = true;
  } else if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") {
    *out = false;
  } else {
    ctx.AddError(n, "expected true or false, got \"" + s + "\"");
    return false;
  }
  return true;
}

bool ParseInt(const YAML::Node& n, Context& ctx, const Bounds& b, int64_t* out) {
  std::string s;
  if (!ctx.Scalar(n, &s)) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0) {
    ctx.AddError(n, "expected an integer, got \"" + s + "\"");
    return false;
  }
  if (!CheckBounds(n, ctx, b, static_cast<long double>(v), s, FmtInt)) return false;
  *out = v;
  return true;
}

bool ParseDuration(const YAML::Node& n, Context& ctx, const Bounds& b,
                   std::chrono::nanoseconds* out) {
  std::string s;
  if (!ctx.Scalar(n, &s)) return false;
  Result<std::chrono::nanoseconds> d = sluice::ParseDuration(s);
  if (!d.ok()) {
    ctx.AddError(n, "expected a duration, " + d.status().message());
    return false;
  }
  if (!CheckBounds(n, ctx, b, static_cast<long double>(d->count()), s, FmtDur)) return false;
  *out = *d;
  return true;
}

bool ParseBytes(const YAML::Node& n, Context& ctx, const Bounds& b, uint64_t* out) {
  std::string s;
  if (!ctx.Scalar(n, &s)) return false;
  Result<uint64_t> v = ParseByteSize(s);
  if (!v.ok()) {
    ctx.AddError(n, "expected a byte size, " + v.status().message());
    return false;
  }
  if (!CheckBounds(n, ctx, b, static_cast<long double>(*v), s, FmtBytes)) return false;
  *out = *v;
  return true;
}

bool ParseStringList(const YAML::Node& n, Context& ctx, std::vector<std::string>* out) {
  if (!n.IsDefined() || n.IsNull()) {
    out->clear();
    return true;
  }
  if (!n.IsSequence()) {
    ctx.AddError(n, "expected a list");
    return false;
  }
  out->clear();
  bool ok = true;
  for (const auto& item : n) {
    std::string s;
    if (ctx.Scalar(item, &s)) {
      out->push_back(std::move(s));
    } else {
      ok = false;
    }
  }
  return ok;
}

bool ParseStringMap(const YAML::Node& n, Context& ctx,
                    std::vector<std::pair<std::string, std::string>>* out) {
  out->clear();
  if (!n.IsDefined() || n.IsNull()) return true;
  if (!n.IsMap()) {
    ctx.AddError(n, "expected a map of strings");
    return false;
  }
  bool ok = true;
  for (const auto& kv : n) {
    std::string key;
    std::string value;
    if (!ctx.Scalar(kv.first, &key) || !ctx.Scalar(kv.second, &value)) {
      ok = false;
      continue;
    }
    for (const auto& [k, v] : *out) {
      if (k == key) {
        ctx.AddError(kv.first, "duplicate key \"" + key + "\"");
        ok = false;
      }
    }
    out->emplace_back(std::move(key), std::move(value));
  }
  return ok;
}

bool ParseChoice(const YAML::Node& n, Context& ctx, const std::vector<std::string>& choices,
                 size_t* index) {
  std::string s;
  if (!ctx.Scalar(n, &s)) return false;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == s) {
      *index = i;
      return true;
    }
  }
  ctx.AddError(n, "invalid value \"" + s + "\"; valid choices: " + JoinChoices(choices));
  return false;
}

std::string DurationBoundsText(const Bounds& b) {
  return BoundsText(b, FmtDur);
}
std::string BytesBoundsText(const Bounds& b) {
  return BoundsText(b, FmtBytes);
}
std::string IntBoundsText(const Bounds& b) {
  return BoundsText(b, FmtInt);
}

void ParseObject(const YAML::Node& node, const std::string& what,
                 const std::vector<FieldDef>& fields, void* target, Context& ctx) {
  std::vector<std::string> names;
  for (const auto& f : fields) names.push_back(f.name);
  if (!node.IsDefined() || node.IsNull()) {
    for (const auto& f : fields) {
      if (f.required) ctx.AddError(node, what + ": missing required key \"" + f.name + "\"");
    }
    return;
  }
  if (!node.IsMap()) {
    ctx.AddError(node, what + ": expected a map with keys " + JoinChoices(names));
    return;
  }
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = it->first.Scalar();
    auto f = std::find_if(fields.begin(), fields.end(),
                          [&](const FieldDef& d) { return d.name == key; });
    if (f == fields.end()) {
      ctx.AddError(it->first,
                   what + ": unknown key \"" + key + "\"; valid keys: " + JoinChoices(names));
      continue;
    }
    if (!seen.insert(key).second) {
      ctx.AddError(it->first, what + ": duplicate key \"" + key + "\"");
      continue;
    }
    f->parse(it->second, target, ctx);
  }
  for (const auto& f : fields) {
    if (f.required && !seen.count(f.name)) {
      ctx.AddError(node, what + ": missing required key \"" + f.name + "\"");
    }
  }
}

}  // namespace internal

std::string RenderMarkdown(const std::vector<FieldDoc>& fields, const std::string& prefix) {
  std::string out;
  for (const auto& f : fields) {
    std::string key = prefix.empty() ? f.name : prefix + "." + f.name;
    if (!f.children.empty()) {
      out += RenderMarkdown(f.children, key);
      continue;
    }
    out += "| `" + key + "` | " + f.type + " | " +
           (f.default_text.empty() ? "" : "`" + f.default_text + "`") + " | " + f.bounds_text +
           " | " + f.doc + " |\n";
  }
  return out;
}

}  // namespace sluice::config
