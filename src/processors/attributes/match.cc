#include "processors/attributes/match.h"

#include <algorithm>
#include <cctype>

#include "processors/attributes/actions.h"
#include "wire/otlp/common.h"
#include "wire/otlp/edit.h"
#include "wire/proto_reader.h"

namespace sluice::processors::attributes {
namespace {

namespace f = wire::otlp::field;

const std::vector<std::pair<std::string, int64_t>>& SpanKinds() {
  static const auto* kinds = new std::vector<std::pair<std::string, int64_t>>{
      {"unspecified", 0}, {"internal", 1}, {"server", 2},
      {"client", 3},      {"producer", 4}, {"consumer", 5},
  };
  return *kinds;
}

// "SPAN_KIND_CLIENT", "Client" or "client".
bool ParseSpanKind(std::string text, int64_t* out) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text.rfind("span_kind_", 0) == 0) text = text.substr(10);
  for (const auto& [name, value] : SpanKinds()) {
    if (name == text) {
      *out = value;
      return true;
    }
  }
  return false;
}

std::optional<ottl::Pattern> Compile(const YAML::Node& at, const std::string& text,
                                     config::Context& ctx) {
  Result<ottl::Pattern> re = ottl::Pattern::Compile(text);
  if (!re.ok()) {
    ctx.AddError(at, "regexp \"" + text + "\": " + re.status().message());
    return std::nullopt;
  }
  return std::move(re).value();
}

std::string ScalarText(const YAML::Node& n) {
  return n.IsScalar() ? n.Scalar() : std::string();
}

// Same type and value (ints and doubles are different types, as pcommon's).
bool SameValue(std::string_view a, std::string_view b) {
  wire::otlp::AnyView x = wire::otlp::ViewAny(a), y = wire::otlp::ViewAny(b);
  if (x.type != y.type) return false;
  using T = wire::otlp::AnyView::Type;
  switch (x.type) {
    case T::kEmpty:
      return true;
    case T::kBool:
      return x.b == y.b;
    case T::kInt:
      return x.i == y.i;
    case T::kDouble:
      return x.d == y.d;
    default:
      return x.s == y.s;
  }
}

bool NameMatches(const MatchProperties& p, const std::vector<std::string>& names,
                 const std::vector<std::optional<ottl::Pattern>>& res, std::string_view v) {
  if (p.regexp) {
    return std::any_of(res.begin(), res.end(),
                       [&](const auto& re) { return re && re->Matches(v); });
  }
  return std::find(names.begin(), names.end(), v) != names.end();
}

bool KeyValuesMatch(const MatchProperties& p, const std::vector<KeyValueMatch>& wanted,
                    std::string_view message, uint32_t field_number) {
  for (const KeyValueMatch& m : wanted) {
    std::string_view value;
    if (field_number == 0 || !wire::otlp::FindAttribute(message, field_number, m.key, &value)) {
      return false;
    }
    if (p.regexp) {
      if (m.regexp && !m.regexp->Matches(wire::otlp::AnyValueText(value))) {
        return false;
      }
    } else if (m.value && !SameValue(*m.value, value)) {
      return false;
    }
  }
  return true;
}

void ParseKeyValues(const YAML::Node& node, config::Context& ctx, bool regexp,
                    std::vector<KeyValueMatch>* out) {
  if (!node.IsSequence()) {
    ctx.AddError(node, "expected a list of {key, value}");
    return;
  }
  for (const auto& item : node) {
    if (!item.IsMap() || !item["key"]) {
      ctx.AddError(item, "expected {key: ..., value: ...} (value optional: the key exists)");
      continue;
    }
    KeyValueMatch m;
    if (!ctx.Scalar(item["key"], &m.key)) continue;
    for (auto it = item.begin(); it != item.end(); ++it) {
      std::string k = it->first.as<std::string>();
      if (k != "key" && k != "value") {
        ctx.AddError(it->first, "unknown key \"" + k + "\"; supported: key, value");
      }
    }
    if (item["value"]) {
      if (regexp) {
        m.regexp = Compile(item["value"], ScalarText(item["value"]), ctx);
      } else {
        m.value = YamlToAnyValue(item["value"]);
      }
    }
    out->push_back(std::move(m));
  }
}

}  // namespace

std::vector<std::string> MatchProperties::NotFor(log::Signal signal) const {
  std::vector<std::string> out;
  auto check = [&](bool set, const char* name, std::initializer_list<log::Signal> allowed) {
    if (set && std::find(allowed.begin(), allowed.end(), signal) == allowed.end()) {
      out.push_back(name);
    }
  };
  using S = log::Signal;
  check(!services.empty(), "services", {S::kTraces});
  check(!span_names.empty(), "span_names", {S::kTraces});
  check(!span_kinds.empty(), "span_kinds", {S::kTraces});
  check(!log_bodies.empty(), "log_bodies", {S::kLogs});
  check(!log_severity_texts.empty(), "log_severity_texts", {S::kLogs});
  check(log_severity_number.has_value(), "log_severity_number", {S::kLogs});
  check(!metric_names.empty(), "metric_names", {S::kMetrics});
  check(!attributes.empty(), "attributes", {S::kTraces, S::kLogs});
  return out;
}

void ParseMatchProperties(const YAML::Node& node, config::Context& ctx, MatchProperties* out) {
  if (!node.IsMap()) {
    ctx.AddError(node, "expected a map of match properties");
    return;
  }
  std::string match_type;
  if (!node["match_type"]) {
    ctx.AddError(node, "match properties need `match_type`: strict or regexp");
    return;
  }
  if (!ctx.Scalar(node["match_type"], &match_type)) return;
  if (match_type != "strict" && match_type != "regexp") {
    ctx.AddError(node["match_type"],
                 "unknown match_type \"" + match_type + "\"; choose one of strict, regexp");
    return;
  }
  out->regexp = match_type == "regexp";
  bool any = false;
  auto names = [&](const YAML::Node& v, std::vector<std::string>* list,
                   std::vector<std::optional<ottl::Pattern>>* res) {
    if (!config::internal::ParseStringList(v, ctx, list)) return;
    if (!out->regexp) return;
    for (size_t i = 0; i < list->size(); ++i) res->push_back(Compile(v[i], (*list)[i], ctx));
  };
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string k = it->first.as<std::string>();
    const YAML::Node v = it->second;
    any |= k != "match_type";
    if (k == "match_type") {
    } else if (k == "services") {
      names(v, &out->services, &out->services_re);
    } else if (k == "span_names") {
      names(v, &out->span_names, &out->span_names_re);
    } else if (k == "log_bodies") {
      names(v, &out->log_bodies, &out->log_bodies_re);
    } else if (k == "log_severity_texts") {
      names(v, &out->log_severity_texts, &out->log_severity_texts_re);
    } else if (k == "metric_names") {
      names(v, &out->metric_names, &out->metric_names_re);
    } else if (k == "span_kinds") {
      std::vector<std::string> kinds;
      if (!config::internal::ParseStringList(v, ctx, &kinds)) continue;
      for (size_t i = 0; i < kinds.size(); ++i) {
        int64_t kind;
        if (ParseSpanKind(kinds[i], &kind)) {
          out->span_kinds.push_back(kind);
        } else {
          ctx.AddError(v[i], "unknown span kind \"" + kinds[i] +
                                 "\"; choose from SPAN_KIND_UNSPECIFIED, SPAN_KIND_INTERNAL, "
                                 "SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, "
                                 "SPAN_KIND_CONSUMER");
        }
      }
    } else if (k == "attributes") {
      ParseKeyValues(v, ctx, out->regexp, &out->attributes);
    } else if (k == "resources") {
      ParseKeyValues(v, ctx, out->regexp, &out->resources);
    } else if (k == "libraries") {
      if (!v.IsSequence()) {
        ctx.AddError(v, "expected a list of {name, version}");
        continue;
      }
      for (const auto& lib : v) {
        MatchProperties::Library l;
        if (!lib.IsMap() || !lib["name"] || !ctx.Scalar(lib["name"], &l.name)) {
          ctx.AddError(lib, "expected {name: ..., version: ...} (version optional)");
          continue;
        }
        if (lib["version"]) {
          std::string version;
          if (ctx.Scalar(lib["version"], &version)) l.version = version;
        }
        if (out->regexp) {
          l.name_re = Compile(lib["name"], l.name, ctx);
          if (l.version) l.version_re = Compile(lib["version"], *l.version, ctx);
        }
        out->libraries.push_back(std::move(l));
      }
    } else if (k == "log_severity_number") {
      MatchProperties::Severity s;
      if (!v.IsMap() || !v["min"]) {
        ctx.AddError(v, "expected {min: <severity number or text>, match_undefined: bool}");
        continue;
      }
      std::string min;
      if (!ctx.Scalar(v["min"], &min)) continue;
      static const std::vector<std::pair<std::string, int64_t>> kSeverities = {
          {"TRACE", 1}, {"DEBUG", 5}, {"INFO", 9}, {"WARN", 13}, {"ERROR", 17}, {"FATAL", 21}};
      bool found = false;
      for (const auto& [name, number] : kSeverities) {
        for (int i = 0; i < 4; ++i) {
          std::string n = name + (i == 0 ? "" : std::to_string(i + 1));
          std::string lower = n;
          std::transform(lower.begin(), lower.end(), lower.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          if (min == n || min == lower) {
            s.min = number + i;
            found = true;
          }
        }
      }
      if (!found) {
        int64_t n = 0;
        found = config::internal::ParseInt(v["min"], ctx, {1, 24}, &n);
        s.min = n;
        if (!found) continue;
      }
      if (v["match_undefined"] &&
          !config::internal::ParseBool(v["match_undefined"], ctx, &s.match_undefined)) {
        continue;
      }
      out->log_severity_number = s;
    } else {
      ctx.AddError(it->first,
                   "unknown match property \"" + k +
                       "\"; supported: match_type, services, span_names, span_kinds, "
                       "attributes, resources, libraries, log_bodies, log_severity_texts, "
                       "log_severity_number, metric_names");
    }
  }
  if (!any) ctx.AddError(node, "match properties need at least one property besides match_type");
}

bool Matches(const MatchProperties& p, const MatchItem& item) {
  if (!p.services.empty()) {
    std::string_view service;
    if (!wire::otlp::FindAttribute(item.resource, f::kResourceAttributes, "service.name",
                                   &service)) {
      return false;
    }
    if (!NameMatches(p, p.services, p.services_re, wire::otlp::AnyValueText(service))) {
      return false;
    }
  }
  if (!p.span_names.empty() && !NameMatches(p, p.span_names, p.span_names_re, item.name)) {
    return false;
  }
  if (!p.metric_names.empty() && !NameMatches(p, p.metric_names, p.metric_names_re, item.name)) {
    return false;
  }
  if (!p.span_kinds.empty() &&
      std::find(p.span_kinds.begin(), p.span_kinds.end(), item.kind) == p.span_kinds.end()) {
    return false;
  }
  if (!p.log_bodies.empty()) {
    if (item.body.empty()) return false;
    if (!NameMatches(p, p.log_bodies, p.log_bodies_re, wire::otlp::AnyValueText(item.body))) {
      return false;
    }
  }
  if (!p.log_severity_texts.empty() &&
      !NameMatches(p, p.log_severity_texts, p.log_severity_texts_re, item.severity_text)) {
    return false;
  }
  if (p.log_severity_number) {
    if (item.severity_number == 0) {
      if (!p.log_severity_number->match_undefined) return false;
    } else if (item.severity_number < p.log_severity_number->min) {
      return false;
    }
  }
  if (!KeyValuesMatch(p, p.attributes, item.attributes, item.attributes_field)) return false;
  if (!KeyValuesMatch(p, p.resources, item.resource, f::kResourceAttributes)) return false;
  if (!p.libraries.empty()) {
    std::string_view name = wire::LastBytesField(item.scope, f::kScopeName);
    std::string_view version = wire::LastBytesField(item.scope, f::kScopeVersion);
    bool any = std::any_of(p.libraries.begin(), p.libraries.end(), [&](const auto& l) {
      if (p.regexp) {
        return (l.name_re && l.name_re->Matches(name)) &&
               (!l.version_re || l.version_re->Matches(version));
      }
      return l.name == name && (!l.version || *l.version == version);
    });
    if (!any) return false;
  }
  return true;
}

}  // namespace sluice::processors::attributes
