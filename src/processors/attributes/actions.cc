#include "processors/attributes/actions.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "base/strings.h"
#include "wire/otlp/common.h"
#include "wire/proto_writer.h"

namespace sluice::processors::attributes {
namespace {

using wire::otlp::AttributeMap;

const std::vector<std::pair<std::string, ActionKind>>& ActionNames() {
  static const auto* names = new std::vector<std::pair<std::string, ActionKind>>{
      {"insert", ActionKind::kInsert},   {"update", ActionKind::kUpdate},
      {"upsert", ActionKind::kUpsert},   {"delete", ActionKind::kDelete},
      {"hash", ActionKind::kHash},       {"extract", ActionKind::kExtract},
      {"convert", ActionKind::kConvert},
  };
  return *names;
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  std::string text(s);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  *out = v;
  return true;
}

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string text(s);
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  *out = v;
  return true;
}

// Go's strconv.FormatFloat(v, 'f', -1, 64) for the values people convert:
// the shortest decimal that reads back as v.
std::string FormatDouble(double v) {
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// Returns the converted value, or "" when the value cannot be converted
// (the Collector then leaves the attribute as it is).
std::string Convert(std::string_view any_value, ConvertTo to) {
  wire::otlp::AnyView v = wire::otlp::ViewAny(any_value);
  using T = wire::otlp::AnyView::Type;
  switch (to) {
    case ConvertTo::kInt:
      switch (v.type) {
        case T::kInt:
          return std::string(any_value);
        case T::kDouble:
          if (!std::isfinite(v.d)) return "";
          return wire::otlp::AnyInt(static_cast<int64_t>(v.d));
        case T::kBool:
          return wire::otlp::AnyInt(v.b ? 1 : 0);
        case T::kString: {
          int64_t i;
          if (!ParseInt64(v.s, &i)) return "";
          return wire::otlp::AnyInt(i);
        }
        default:
          return "";
      }
    case ConvertTo::kDouble:
      switch (v.type) {
        case T::kDouble:
          return std::string(any_value);
        case T::kInt:
          return wire::otlp::AnyDouble(static_cast<double>(v.i));
        case T::kBool:
          return wire::otlp::AnyDouble(v.b ? 1 : 0);
        case T::kString: {
          double d;
          if (!ParseDouble(v.s, &d)) return "";
          return wire::otlp::AnyDouble(d);
        }
        default:
          return "";
      }
    case ConvertTo::kString:
      switch (v.type) {
        case T::kString:
          return std::string(any_value);
        case T::kDouble:
          return wire::otlp::AnyString(FormatDouble(v.d));
        default:
          return wire::otlp::AnyString(wire::otlp::AnyValueText(any_value));
      }
  }
  return "";
}

bool Apply(const Action& a, AttributeMap* attrs) {
  switch (a.kind) {
    case ActionKind::kInsert:
    case ActionKind::kUpdate:
    case ActionKind::kUpsert: {
      AttributeMap::Entry* existing = attrs->FindMutable(a.key);
      if (a.kind == ActionKind::kInsert && existing != nullptr) return false;
      if (a.kind == ActionKind::kUpdate && existing == nullptr) return false;
      std::string_view value = a.value;  // the action outlives the map
      if (!a.has_value) {
        const std::string_view* from = attrs->Find(a.from_attribute);
        if (from == nullptr) return false;
        value = *from;
      }
      if (existing != nullptr) {
        if (existing->value == value) return false;
        existing->Assign(value);
      } else {
        attrs->mutable_entries().push_back({a.key, value});
      }
      return true;
    }
    case ActionKind::kDelete: {
      bool changed = false;
      if (!a.key.empty()) changed |= attrs->Erase(a.key);
      if (a.pattern) {
        auto& e = attrs->mutable_entries();
        size_t before = e.size();
        std::erase_if(e, [&](const AttributeMap::Entry& kv) { return a.pattern->Matches(kv.key); });
        changed |= e.size() != before;
      }
      return changed;
    }
    case ActionKind::kHash: {
      bool changed = false;
      for (auto& e : attrs->mutable_entries()) {
        bool selected =
            (!a.key.empty() && e.key == a.key) || (a.pattern && a.pattern->Matches(e.key));
        if (!selected) continue;
        e.Assign(attrs->OwnString(HashValue(e.value)));
        changed = true;
      }
      return changed;
    }
    case ActionKind::kExtract: {
      const std::string_view* source = attrs->Find(a.key);
      if (source == nullptr) return false;
      wire::otlp::AnyView v = wire::otlp::ViewAny(*source);
      if (v.type != wire::otlp::AnyView::Type::kString) return false;
      const re2::RE2& re = a.pattern->re();
      int n = re.NumberOfCapturingGroups();
      re2::StringPiece fixed[16];
      std::vector<re2::StringPiece> more;
      re2::StringPiece* groups = fixed;
      if (n + 1 > 16) {
        more.resize(static_cast<size_t>(n) + 1);
        groups = more.data();
      }
      if (!re.Match(v.s, 0, v.s.size(), re2::RE2::UNANCHORED, groups, n + 1)) return false;
      // The captures view the source value, which stays put: the map only
      // adds slots, and never reuses one before it is reset. Group names
      // live in the pattern, which outlives the map.
      for (const auto& [name, index] : re.NamedCapturingGroups()) {
        re2::StringPiece g = groups[index];
        std::string_view value = attrs->OwnString(std::string_view(g.data(), g.size()));
        if (AttributeMap::Entry* existing = attrs->FindMutable(name)) {
          existing->Assign(value);
        } else {
          attrs->mutable_entries().push_back({name, value});
        }
      }
      return true;
    }
    case ActionKind::kConvert: {
      AttributeMap::Entry* existing = attrs->FindMutable(a.key);
      if (existing == nullptr) return false;
      std::string converted = Convert(existing->value, a.converted_type);
      if (converted.empty() || converted == existing->value) return false;
      attrs->Replace(existing, converted);
      return true;
    }
  }
  return false;
}

}  // namespace

std::string YamlToAnyValue(const YAML::Node& node) {
  if (node.IsSequence()) {
    std::string values;
    wire::ProtoWriter w(&values);
    for (const auto& item : node) w.Bytes(wire::otlp::field::kArrayValues, YamlToAnyValue(item));
    std::string out;
    wire::ProtoWriter(&out).Bytes(wire::otlp::field::kAnyArray, values);
    return out;
  }
  if (node.IsMap()) {
    AttributeMap m;
    for (auto it = node.begin(); it != node.end(); ++it) {
      m.Set(it->first.as<std::string>(), YamlToAnyValue(it->second));
    }
    return m.ToKvlist();
  }
  if (!node.IsScalar()) return "";  // null: an empty AnyValue
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return wire::otlp::AnyString(text);  // quoted
  if (text == "true" || text == "True" || text == "TRUE") return wire::otlp::AnyBool(true);
  if (text == "false" || text == "False" || text == "FALSE") return wire::otlp::AnyBool(false);
  int64_t i;
  if (ParseInt64(text, &i)) return wire::otlp::AnyInt(i);
  double d;
  if (text.find_first_of(".eE") != std::string::npos && ParseDouble(text, &d)) {
    return wire::otlp::AnyDouble(d);
  }
  return wire::otlp::AnyString(text);
}

namespace {

// SHA-256 with the algorithm fetched once and a context per thread: the
// one-shot EVP_Digest looks the algorithm up (under a lock) on every call.
class Sha256 {
 public:
  Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  // Writes 32 bytes to `digest`.
  void Digest(std::string_view bytes, unsigned char* digest) {
    unsigned int len = 0;
    EVP_DigestInit_ex2(ctx_, md_, nullptr);
    EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
    EVP_DigestFinal_ex(ctx_, digest, &len);
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

}  // namespace

std::string HashValue(std::string_view any_value) {
  wire::otlp::AnyView v = wire::otlp::ViewAny(any_value);
  char scalar[8];
  std::string text;
  std::string_view bytes;
  auto big_endian = [&](uint64_t x) {
    for (int i = 0; i < 8; ++i) scalar[i] = static_cast<char>((x >> (8 * (7 - i))) & 0xFF);
    bytes = std::string_view(scalar, 8);
  };
  using T = wire::otlp::AnyView::Type;
  switch (v.type) {
    case T::kBool:
      scalar[0] = v.b ? 1 : 0;
      bytes = std::string_view(scalar, 1);
      break;
    case T::kInt:
      big_endian(static_cast<uint64_t>(v.i));
      break;
    case T::kDouble: {
      uint64_t bits;
      std::memcpy(&bits, &v.d, 8);
      big_endian(bits);
      break;
    }
    case T::kString:
    case T::kBytes:
      bytes = v.s;
      break;
    default:
      text = wire::otlp::AnyValueText(any_value);
      bytes = text;
      break;
  }
  thread_local Sha256 sha;
  unsigned char digest[32];
  sha.Digest(bytes, digest);
  std::string hex;
  hex.reserve(64);
  AppendHex(hex, std::string_view(reinterpret_cast<const char*>(digest), 32));
  return hex;
}

void ParseActions(const YAML::Node& node, config::Context& ctx, std::vector<Action>* out) {
  if (!node.IsSequence()) {
    ctx.AddError(node,
                 "expected a list of actions ({key, action, value | from_attribute | "
                 "pattern | converted_type})");
    return;
  }
  for (const auto& item : node) {
    if (!item.IsMap()) {
      ctx.AddError(item, "expected an action: a map with `key` and `action`");
      continue;
    }
    Action a;
    bool has_action = false;
    std::string pattern_text;
    config::Location pattern_at;
    bool ok = true;
    for (auto it = item.begin(); it != item.end(); ++it) {
      std::string k = it->first.as<std::string>();
      const YAML::Node v = it->second;
      if (k == "key") {
        ok &= ctx.Scalar(v, &a.key);
      } else if (k == "action") {
        std::string name;
        if (!ctx.Scalar(v, &name)) {
          ok = false;
          continue;
        }
        std::vector<std::string> names;
        for (const auto& [n, kind] : ActionNames()) {
          names.push_back(n);
          if (n == name) {
            a.kind = kind;
            has_action = true;
          }
        }
        if (!has_action) {
          ctx.AddError(
              v, "unknown action \"" + name + "\"; choose one of " + config::JoinChoices(names));
          ok = false;
        }
      } else if (k == "value") {
        a.has_value = true;
        a.value = YamlToAnyValue(v);
      } else if (k == "from_attribute") {
        ok &= ctx.Scalar(v, &a.from_attribute);
      } else if (k == "pattern") {
        ok &= ctx.Scalar(v, &pattern_text);
        pattern_at = ctx.Where(v);
      } else if (k == "converted_type") {
        std::string t;
        if (!ctx.Scalar(v, &t)) {
          ok = false;
        } else if (t == "int") {
          a.converted_type = ConvertTo::kInt;
        } else if (t == "double") {
          a.converted_type = ConvertTo::kDouble;
        } else if (t == "string") {
          a.converted_type = ConvertTo::kString;
        } else {
          ctx.AddError(v,
                       "unknown converted_type \"" + t + "\"; choose one of int, double, string");
          ok = false;
        }
      } else if (k == "from_context") {
        ctx.AddError(it->first,
                     "from_context is not supported (sluice keeps no client metadata); use "
                     "value or from_attribute");
        ok = false;
      } else {
        ctx.AddError(it->first, "unknown key \"" + k +
                                    "\" in an action; supported: key, action, value, "
                                    "from_attribute, pattern, converted_type");
        ok = false;
      }
    }
    if (!ok) continue;
    if (!has_action) {
      ctx.AddError(item,
                   "the action needs `action`: one of insert, update, upsert, delete, "
                   "hash, extract, convert");
      continue;
    }
    if (!pattern_text.empty()) {
      Result<ottl::Pattern> re = ottl::Pattern::Compile(pattern_text);
      if (!re.ok()) {
        ctx.AddError(pattern_at, "pattern: " + re.status().message());
        continue;
      }
      a.pattern = std::move(re).value();
    }
    std::string label =
        "action " + (a.key.empty() ? std::string("with pattern") : "on \"" + a.key + "\"");
    auto fail = [&](const std::string& why) { ctx.AddError(item, label + ": " + why); };
    switch (a.kind) {
      case ActionKind::kInsert:
      case ActionKind::kUpdate:
      case ActionKind::kUpsert:
        if (a.key.empty()) {
          fail("insert, update and upsert need `key`");
        } else if (a.has_value == !a.from_attribute.empty()) {
          fail("insert, update and upsert need exactly one of `value` and `from_attribute`");
        } else if (a.pattern) {
          fail("`pattern` is for delete, hash and extract");
        } else {
          out->push_back(std::move(a));
        }
        break;
      case ActionKind::kDelete:
      case ActionKind::kHash:
        if (a.key.empty() && !a.pattern) {
          fail("delete and hash need `key`, `pattern` or both");
        } else if (a.has_value || !a.from_attribute.empty()) {
          fail("delete and hash take no `value` or `from_attribute`");
        } else {
          out->push_back(std::move(a));
        }
        break;
      case ActionKind::kExtract:
        if (a.key.empty() || !a.pattern) {
          fail("extract needs `key` and `pattern`");
        } else if (a.pattern->re().NamedCapturingGroups().empty()) {
          fail(
              "extract's pattern needs named groups, as (?P<name>...), one per attribute it "
              "sets");
        } else {
          out->push_back(std::move(a));
        }
        break;
      case ActionKind::kConvert:
        if (a.key.empty()) {
          fail("convert needs `key` and `converted_type`");
        } else if (!item["converted_type"]) {
          fail("convert needs `converted_type`: int, double or string");
        } else {
          out->push_back(std::move(a));
        }
        break;
    }
  }
}

bool ApplyActions(const std::vector<Action>& actions, AttributeMap* attrs) {
  bool changed = false;
  for (const Action& a : actions) changed |= Apply(a, attrs);
  return changed;
}

}  // namespace sluice::processors::attributes
