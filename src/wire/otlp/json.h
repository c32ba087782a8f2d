#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::wire::otlp {

// Transcodes an OTLP/JSON export request into the protobuf wire format, so
// the rest of sluice handles one encoding. Follows the OTLP JSON mapping:
// lowerCamelCase keys (the original snake_case names are accepted too),
// trace and span ids as hex, 64-bit integers as strings or numbers, enums as
// numbers, bytes as base64, unknown keys ignored. InvalidArgument names the
// offending key.
Status TracesJsonToProto(std::string_view json, std::string* out);
Status MetricsJsonToProto(std::string_view json, std::string* out);
Status LogsJsonToProto(std::string_view json, std::string* out);

// The reverse: renders a protobuf export request as one OTLP/JSON object
// (no newline) appended to *out, from the same field tables, so that
// JSON → protobuf → JSON → protobuf gives the same bytes twice.
//   - keys in lowerCamelCase; trace and span ids as lower-case hex;
//   - int64, uint64, fixed64 and sfixed64 as decimal strings; int32, uint32,
//     sint32, fixed32 and enums as JSON numbers;
//   - bytes as base64; doubles as the shortest number that reads back the
//     same, NaN and ±Infinity as "NaN", "Infinity", "-Infinity";
//   - repeated fields (packed or not) as arrays; fields holding their default
//     value omitted, except oneof members and `optional` fields, which are
//     shown whenever set; unknown fields skipped;
//   - bytes of a string field that are not UTF-8 become U+FFFD.
// Malformed protobuf (truncated, a known field with the wrong wire type,
// nesting deeper than the JSON side accepts) is InvalidArgument, and *out is
// left as it was.
Status AppendTracesRequestJson(std::string_view proto, std::string* out);
Status AppendMetricsRequestJson(std::string_view proto, std::string* out);
Status AppendLogsRequestJson(std::string_view proto, std::string* out);

}  // namespace sluice::wire::otlp
