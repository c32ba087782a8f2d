#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::wire::otlp {

// Field numbers from opentelemetry/proto/common/v1/common.proto and
// resource/v1/resource.proto.
namespace field {
inline constexpr uint32_t kAnyString = 1;
inline constexpr uint32_t kAnyBool = 2;
inline constexpr uint32_t kAnyInt = 3;
inline constexpr uint32_t kAnyDouble = 4;
inline constexpr uint32_t kAnyArray = 5;
inline constexpr uint32_t kAnyKvlist = 6;
inline constexpr uint32_t kAnyBytes = 7;
inline constexpr uint32_t kArrayValues = 1;
inline constexpr uint32_t kKvlistValues = 1;
inline constexpr uint32_t kKeyValueKey = 1;
inline constexpr uint32_t kKeyValueValue = 2;
inline constexpr uint32_t kScopeName = 1;
inline constexpr uint32_t kScopeVersion = 2;
inline constexpr uint32_t kScopeAttributes = 3;
inline constexpr uint32_t kScopeDroppedAttributes = 4;
inline constexpr uint32_t kResourceAttributes = 1;
inline constexpr uint32_t kResourceDroppedAttributes = 2;
}  // namespace field

// Deepest nesting of array/kvlist values accepted; deeper input is rejected
// so a hostile request cannot exhaust the stack.
inline constexpr int kMaxValueDepth = 32;

// Validates one AnyValue (nesting at most kMaxValueDepth deep).
Status ValidateAnyValue(std::string_view value, int depth = 0);
// Validates one KeyValue message (its value nested at most kMaxValueDepth
// deep, counting from `depth`).
Status ValidateKeyValue(std::string_view kv, int depth = 0);
// Validates every KeyValue found at `field_number` of `message`.
Status ValidateKeyValues(std::string_view message, uint32_t field_number, int depth = 0);
// Validates a Resource or an InstrumentationScope message.
Status ValidateResource(std::string_view resource);
Status ValidateScope(std::string_view scope);

// OTLP/JSON rendering (protobuf JSON mapping with lowerCamelCase names, ids in
// hex, 64-bit integers as decimal strings, enums as numbers). Fields holding
// their default value are omitted, as the mapping does.
void AppendAnyValueJson(std::string& out, std::string_view any_value, int depth = 0);
// Appends `"name":[...]` for the KeyValues at field_number, or nothing if none.
// `*first` tracks whether a comma is needed before it.
void AppendKeyValuesJson(std::string& out, std::string_view message, uint32_t field_number,
                         std::string_view json_name, bool* first, int depth = 0);
void AppendResourceJson(std::string& out, std::string_view resource);
void AppendScopeJson(std::string& out, std::string_view scope);

void AppendBase64(std::string& out, std::string_view bytes);

// Plain JSON of an AnyValue, as log lines and labels show it rather than the
// OTLP/JSON mapping: strings as strings, ints and doubles as numbers, bools,
// arrays as arrays, kvlists as objects, bytes as base64 strings, empty as null.
void AppendAnyValuePlainJson(std::string& out, std::string_view any_value, int depth = 0);
// The KeyValues at field_number of message as one plain JSON object.
void AppendAttributesPlainJson(std::string& out, std::string_view message, uint32_t field_number,
                               int depth = 0);
// An AnyValue as label text: a string as it is, anything else as plain JSON.
std::string AnyValueText(std::string_view any_value);

// The `service.name` of an encoded Resource as text, or "unknown_service"
// when it has none (the OpenTelemetry SDKs' fallback).
std::string ServiceName(std::string_view resource);
// The value (an AnyValue) of the first KeyValue at field_number whose key is
// `key`; false if there is none.
bool FindAttribute(std::string_view message, uint32_t field_number, std::string_view key,
                   std::string_view* any_value);
// Whether the KeyValues at field_number hold `key` with a value whose
// AnyValueText is `text`.
bool AttributeTextIs(std::string_view message, uint32_t field_number, std::string_view key,
                     std::string_view text);

}  // namespace sluice::wire::otlp
