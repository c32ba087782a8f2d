#include "wire/otlp/common.h"

#include <cmath>
#include <cstdio>

#include "base/strings.h"
#include "wire/proto_reader.h"

namespace sluice::wire::otlp {
namespace {

Status Invalid(std::string why) {
  return Status::InvalidArgument(std::move(why));
}

}  // namespace

Status ValidateAnyValue(std::string_view v, int depth) {
  if (depth > kMaxValueDepth) return Invalid("attribute value nested deeper than 32 levels");
  ProtoReader r(v);
  while (r.Next()) {
    switch (r.field()) {
      case field::kAnyString:
      case field::kAnyBytes:
        if (!r.Is(WireType::kLengthDelimited))
          return Invalid("attribute value has wrong wire type");
        break;
      case field::kAnyBool:
      case field::kAnyInt:
        if (!r.Is(WireType::kVarint)) return Invalid("attribute value has wrong wire type");
        break;
      case field::kAnyDouble:
        if (!r.Is(WireType::kFixed64)) return Invalid("attribute value has wrong wire type");
        break;
      case field::kAnyArray: {
        if (!r.Is(WireType::kLengthDelimited))
          return Invalid("attribute value has wrong wire type");
        ProtoReader a(r.bytes());
        while (a.Next()) {
          if (a.field() != field::kArrayValues) continue;
          if (!a.Is(WireType::kLengthDelimited)) return Invalid("array value has wrong wire type");
          SLUICE_RETURN_IF_ERROR(ValidateAnyValue(a.bytes(), depth + 1));
        }
        if (!a.ok()) return Invalid(std::string("malformed array value: ") + a.error());
        break;
      }
      case field::kAnyKvlist:
        if (!r.Is(WireType::kLengthDelimited))
          return Invalid("attribute value has wrong wire type");
        SLUICE_RETURN_IF_ERROR(ValidateKeyValues(r.bytes(), field::kKvlistValues, depth + 1));
        break;
      default:
        break;
    }
  }
  if (!r.ok()) return Invalid(std::string("malformed attribute value: ") + r.error());
  return Status::Ok();
}

Status ValidateKeyValue(std::string_view kv, int depth) {
  ProtoReader r(kv);
  while (r.Next()) {
    if (r.field() == field::kKeyValueKey || r.field() == field::kKeyValueValue) {
      if (!r.Is(WireType::kLengthDelimited)) return Invalid("attribute has wrong wire type");
      if (r.field() == field::kKeyValueValue) {
        SLUICE_RETURN_IF_ERROR(ValidateAnyValue(r.bytes(), depth));
      }
    }
  }
  if (!r.ok()) return Invalid(std::string("malformed attribute: ") + r.error());
  return Status::Ok();
}

namespace {

// The key and value (an AnyValue) of one KeyValue message.
void ReadKeyValue(std::string_view kv, std::string_view* key, std::string_view* value) {
  ProtoReader r(kv);
  while (r.Next()) {
    if (r.field() == field::kKeyValueKey) *key = r.bytes();
    if (r.field() == field::kKeyValueValue) *value = r.bytes();
  }
}

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "\"NaN\"";
  } else if (std::isinf(d)) {
    out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    out += buf;
  }
}

}  // namespace

Status ValidateKeyValues(std::string_view message, uint32_t field_number, int depth) {
  ProtoReader r(message);
  while (r.Next()) {
    if (r.field() != field_number) continue;
    if (!r.Is(WireType::kLengthDelimited)) return Invalid("attributes have wrong wire type");
    SLUICE_RETURN_IF_ERROR(ValidateKeyValue(r.bytes(), depth));
  }
  if (!r.ok()) return Invalid(std::string("malformed message: ") + r.error());
  return Status::Ok();
}

Status ValidateResource(std::string_view resource) {
  return ValidateKeyValues(resource, field::kResourceAttributes);
}

Status ValidateScope(std::string_view scope) {
  ProtoReader r(scope);
  while (r.Next()) {
    if ((r.field() == field::kScopeName || r.field() == field::kScopeVersion) &&
        !r.Is(WireType::kLengthDelimited)) {
      return Invalid("instrumentation scope has wrong wire type");
    }
  }
  if (!r.ok()) return Invalid(std::string("malformed instrumentation scope: ") + r.error());
  return ValidateKeyValues(scope, field::kScopeAttributes);
}

void AppendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = p[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
}

void AppendAnyValueJson(std::string& out, std::string_view any_value, int depth) {
  out += '{';
  ProtoReader r(any_value);
  bool wrote = false;
  while (r.Next() && !wrote) {
    wrote = true;
    switch (r.field()) {
      case field::kAnyString:
        out += "\"stringValue\":";
        AppendJsonString(out, r.bytes());
        break;
      case field::kAnyBool:
        out += r.varint() ? "\"boolValue\":true" : "\"boolValue\":false";
        break;
      case field::kAnyInt:
        out += "\"intValue\":\"";
        out += std::to_string(r.as_int64());
        out += '"';
        break;
      case field::kAnyDouble:
        out += "\"doubleValue\":";
        AppendDouble(out, r.as_double());
        break;
      case field::kAnyBytes:
        out += "\"bytesValue\":\"";
        AppendBase64(out, r.bytes());
        out += '"';
        break;
      case field::kAnyArray: {
        out += "\"arrayValue\":{\"values\":[";
        ProtoReader a(r.bytes());
        bool first = true;
        while (a.Next()) {
          if (a.field() != field::kArrayValues || depth >= kMaxValueDepth) continue;
          if (!first) out += ',';
          first = false;
          AppendAnyValueJson(out, a.bytes(), depth + 1);
        }
        out += "]}";
        break;
      }
      case field::kAnyKvlist: {
        out += "\"kvlistValue\":{";
        bool first = true;
        if (depth < kMaxValueDepth) {
          AppendKeyValuesJson(out, r.bytes(), field::kKvlistValues, "values", &first, depth + 1);
        }
        out += '}';
        break;
      }
      default:
        wrote = false;
    }
  }
  out += '}';
}

void AppendKeyValuesJson(std::string& out, std::string_view message, uint32_t field_number,
                         std::string_view json_name, bool* first, int depth) {
  ProtoReader r(message);
  bool opened = false;
  while (r.Next()) {
    if (r.field() != field_number || !r.Is(WireType::kLengthDelimited)) continue;
    if (!opened) {
      if (!*first) out += ',';
      *first = false;
      out += '"';
      out += json_name;
      out += "\":[";
      opened = true;
    } else {
      out += ',';
    }
    std::string_view key;
    std::string_view value;
    ReadKeyValue(r.bytes(), &key, &value);
    out += "{\"key\":";
    AppendJsonString(out, key);
    out += ",\"value\":";
    AppendAnyValueJson(out, value, depth);
    out += '}';
  }
  if (opened) out += ']';
}

void AppendResourceJson(std::string& out, std::string_view resource) {
  out += '{';
  bool first = true;
  AppendKeyValuesJson(out, resource, field::kResourceAttributes, "attributes", &first);
  ProtoReader r(resource);
  while (r.Next()) {
    if (r.field() == field::kResourceDroppedAttributes && r.varint() != 0) {
      out += first ? "" : ",";
      first = false;
      out += "\"droppedAttributesCount\":" + std::to_string(r.varint());
    }
  }
  out += '}';
}

void AppendScopeJson(std::string& out, std::string_view scope) {
  out += '{';
  bool first = true;
  ProtoReader r(scope);
  while (r.Next()) {
    const char* name = nullptr;
    if (r.field() == field::kScopeName) name = "name";
    if (r.field() == field::kScopeVersion) name = "version";
    if (name != nullptr && !r.bytes().empty()) {
      out += first ? "\"" : ",\"";
      first = false;
      out += name;
      out += "\":";
      AppendJsonString(out, r.bytes());
    }
  }
  AppendKeyValuesJson(out, scope, field::kScopeAttributes, "attributes", &first);
  out += '}';
}

void AppendAnyValuePlainJson(std::string& out, std::string_view any_value, int depth) {
  ProtoReader r(any_value);
  while (r.Next()) {
    switch (r.field()) {
      case field::kAnyString:
        AppendJsonString(out, r.bytes());
        return;
      case field::kAnyBool:
        out += r.varint() ? "true" : "false";
        return;
      case field::kAnyInt:
        out += std::to_string(r.as_int64());
        return;
      case field::kAnyDouble:
        AppendDouble(out, r.as_double());
        return;
      case field::kAnyBytes:
        out += '"';
        AppendBase64(out, r.bytes());
        out += '"';
        return;
      case field::kAnyArray: {
        out += '[';
        ProtoReader a(r.bytes());
        bool first = true;
        while (a.Next()) {
          if (a.field() != field::kArrayValues || depth >= kMaxValueDepth) continue;
          if (!first) out += ',';
          first = false;
          AppendAnyValuePlainJson(out, a.bytes(), depth + 1);
        }
        out += ']';
        return;
      }
      case field::kAnyKvlist:
        if (depth >= kMaxValueDepth) {
          out += "{}";
        } else {
          AppendAttributesPlainJson(out, r.bytes(), field::kKvlistValues, depth + 1);
        }
        return;
      default:
        break;
    }
  }
  out += "null";
}

void AppendAttributesPlainJson(std::string& out, std::string_view message, uint32_t field_number,
                               int depth) {
  out += '{';
  bool first = true;
  ProtoReader r(message);
  while (r.Next()) {
    if (r.field() != field_number || !r.Is(WireType::kLengthDelimited)) continue;
    std::string_view key;
    std::string_view value;
    ReadKeyValue(r.bytes(), &key, &value);
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, key);
    out += ':';
    AppendAnyValuePlainJson(out, value, depth);
  }
  out += '}';
}

std::string AnyValueText(std::string_view any_value) {
  ProtoReader r(any_value);
  if (r.Next() && r.field() == field::kAnyString && r.Is(WireType::kLengthDelimited)) {
    return std::string(r.bytes());
  }
  std::string out;
  AppendAnyValuePlainJson(out, any_value);
  return out;
}

bool FindAttribute(std::string_view message, uint32_t field_number, std::string_view key,
                   std::string_view* any_value) {
  ProtoReader r(message);
  while (r.Next()) {
    if (r.field() != field_number || !r.Is(WireType::kLengthDelimited)) continue;
    std::string_view k;
    std::string_view v;
    ReadKeyValue(r.bytes(), &k, &v);
    if (k == key) {
      *any_value = v;
      return true;
    }
  }
  return false;
}

bool AttributeTextIs(std::string_view message, uint32_t field_number, std::string_view key,
                     std::string_view text) {
  std::string_view v;
  return FindAttribute(message, field_number, key, &v) && AnyValueText(v) == text;
}

std::string ServiceName(std::string_view resource) {
  std::string_view v;
  return FindAttribute(resource, field::kResourceAttributes, "service.name", &v)
             ? AnyValueText(v)
             : "unknown_service";
}

}  // namespace sluice::wire::otlp
