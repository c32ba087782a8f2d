#include "exporters/prometheusremotewrite/attributes.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "base/strings.h"
#include "wire/otlp/common.h"
#include "wire/prom/labels.h"
#include "wire/prom/naming.h"
#include "wire/proto_reader.h"

namespace sluice::exporters::prw {

// Prometheus naming (wire/prom/naming.h), shared with the relabel processor.
using wire::prom::AppendLabelName;
using wire::prom::IsCleanLabelName;
namespace {

using wire::ProtoReader;
using wire::WireType;
namespace common = wire::otlp::field;

void AppendJsonDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Appends a non-string (or nested) value as JSON, as the attribute
// specification asks of protocols without typed values.
Status AppendJsonValue(std::string& out, const AnyValue& v, int depth) {
  if (depth > wire::otlp::kMaxValueDepth) {
    return Invalid("attribute value nested deeper than 32 levels");
  }
  switch (v.kind) {
    case common::kAnyString:
      AppendJsonString(out, v.bytes);
      break;
    case common::kAnyBool:
      out += v.scalar != 0 ? "true" : "false";
      break;
    case common::kAnyInt:
      AppendInt(out, static_cast<int64_t>(v.scalar));
      break;
    case common::kAnyDouble: {
      double d;
      std::memcpy(&d, &v.scalar, sizeof d);
      AppendJsonDouble(out, d);
      break;
    }
    case common::kAnyBytes:
      out += '"';
      wire::otlp::AppendBase64(out, v.bytes);
      out += '"';
      break;
    case common::kAnyArray: {
      out += '[';
      bool first = true;
      ProtoReader a(v.bytes);
      while (a.Next()) {
        if (a.field() != common::kArrayValues) continue;
        if (!a.Is(WireType::kLengthDelimited))
          return Invalid("array value has the wrong wire type");
        if (!first) out += ',';
        first = false;
        AnyValue element;
        SLUICE_RETURN_IF_ERROR(DecodeAnyValue(a.bytes(), &element));
        SLUICE_RETURN_IF_ERROR(AppendJsonValue(out, element, depth + 1));
      }
      if (!a.ok()) return Invalid(std::string("malformed array value: ") + a.error());
      out += ']';
      break;
    }
    case common::kAnyKvlist: {
      out += '{';
      bool first = true;
      ProtoReader l(v.bytes);
      while (l.Next()) {
        if (l.field() != common::kKvlistValues) continue;
        if (!l.Is(WireType::kLengthDelimited))
          return Invalid("kvlist value has the wrong wire type");
        std::string_view key;
        std::string_view raw_value;
        SLUICE_RETURN_IF_ERROR(DecodeKeyValue(l.bytes(), &key, &raw_value));
        if (!first) out += ',';
        first = false;
        AppendJsonString(out, key);
        out += ':';
        AnyValue element;
        SLUICE_RETURN_IF_ERROR(DecodeAnyValue(raw_value, &element));
        SLUICE_RETURN_IF_ERROR(AppendJsonValue(out, element, depth + 1));
      }
      if (!l.ok()) return Invalid(std::string("malformed kvlist value: ") + l.error());
      out += '}';
      break;
    }
    default:
      out += "null";
      break;
  }
  return Status::Ok();
}

}  // namespace

const std::string_view kPlaceholder = "\x01";

Status DecodeAnyValue(std::string_view raw, AnyValue* out) {
  *out = AnyValue{};
  ProtoReader r(raw);
  while (r.Next()) {
    WireType want;
    switch (r.field()) {
      case common::kAnyString:
      case common::kAnyBytes:
      case common::kAnyArray:
      case common::kAnyKvlist:
        want = WireType::kLengthDelimited;
        break;
      case common::kAnyBool:
      case common::kAnyInt:
        want = WireType::kVarint;
        break;
      case common::kAnyDouble:
        want = WireType::kFixed64;
        break;
      default:
        continue;
    }
    if (!r.Is(want)) return Invalid("attribute value has the wrong wire type");
    out->kind = r.field();
    out->bytes = r.bytes();
    out->scalar = r.varint();
  }
  if (!r.ok()) return Invalid(std::string("malformed attribute value: ") + r.error());
  return Status::Ok();
}

Status DecodeKeyValue(std::string_view raw, std::string_view* key, std::string_view* value) {
  *key = {};
  *value = {};
  ProtoReader r(raw);
  while (r.Next()) {
    if (r.field() != common::kKeyValueKey && r.field() != common::kKeyValueValue) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("attribute has the wrong wire type");
    (r.field() == common::kKeyValueKey ? *key : *value) = r.bytes();
  }
  if (!r.ok()) return Invalid(std::string("malformed attribute: ") + r.error());
  return Status::Ok();
}

Status AddAttribute(std::string_view key_value, Arena& arena, std::string& render,
                    std::vector<Candidate>& out, bool* bad_utf8) {
  std::string_view key;
  std::string_view raw_value;
  SLUICE_RETURN_IF_ERROR(DecodeKeyValue(key_value, &key, &raw_value));
  AnyValue v;
  SLUICE_RETURN_IF_ERROR(DecodeAnyValue(raw_value, &v));
  std::string_view value;
  if (v.kind == common::kAnyString) {
    value = v.bytes;
  } else if (v.kind == common::kAnyBytes) {
    render.clear();
    wire::otlp::AppendBase64(render, v.bytes);
    value = arena.Copy(render);
  } else if (v.kind != 0) {
    render.clear();
    SLUICE_RETURN_IF_ERROR(AppendJsonValue(render, v, 0));
    value = arena.Copy(render);
  }
  if (!wire::prom::ValidUtf8(value)) {
    *bad_utf8 = true;
    return Status::Ok();
  }
  std::string_view name;
  if (IsCleanLabelName(key)) {
    name = key;
  } else {
    render.clear();
    AppendLabelName(render, key);
    name = arena.Copy(render);
  }
  if (name.empty()) return Status::Ok();
  out.push_back(Candidate{name, value, key, Source::kAttribute});
  return Status::Ok();
}

PlaceholderIndexes BuildLabels(std::vector<Candidate>& candidates, Arena& arena, std::string& join,
                               std::vector<LabelRef>& labels) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.name != b.name) return a.name < b.name;
    if (a.source != b.source) return a.source < b.source;
    return a.key < b.key;
  });
  labels.clear();
  PlaceholderIndexes placeholders{std::numeric_limits<size_t>::max(),
                                  std::numeric_limits<size_t>::max()};
  for (size_t i = 0; i < candidates.size();) {
    size_t end = i + 1;
    while (end < candidates.size() && candidates[end].name == candidates[i].name) ++end;
    std::string_view value;
    size_t j = i;
    if (candidates[j].source == Source::kTranslation) {
      value = candidates[j].value;
    } else if (candidates[j].source == Source::kAttribute) {
      size_t joined = 0;
      for (; j < end && candidates[j].source == Source::kAttribute; ++j) {
        std::string_view v = candidates[j].value;
        if (v.empty()) continue;
        if (joined++ == 0) {
          value = v;
          continue;
        }
        if (joined == 2) join.assign(value);
        join.push_back(';');
        join.append(v);
      }
      if (joined > 1) value = arena.Copy(join);
      if (value.empty() && j < end) value = candidates[j].value;  // an external label
    } else {
      value = candidates[j].value;
    }
    if (!value.empty()) {
      if (value.data() == kPlaceholder.data()) {
        (candidates[i].name == kNameLabel ? placeholders.name : placeholders.extra) = labels.size();
      }
      labels.push_back(LabelRef{candidates[i].name, value});
    }
    i = end;
  }
  return placeholders;
}

}  // namespace sluice::exporters::prw
