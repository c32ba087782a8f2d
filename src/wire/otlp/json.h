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

}  // namespace sluice::wire::otlp
