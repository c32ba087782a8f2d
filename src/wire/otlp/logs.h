#pragma once

#include <cstdint>

namespace sluice::wire::otlp::field {

// Field numbers from opentelemetry/proto/logs/v1/logs.proto and
// collector/logs/v1/logs_service.proto.
inline constexpr uint32_t kRequestResourceLogs = 1;
inline constexpr uint32_t kResourceLogsResource = 1;
inline constexpr uint32_t kResourceLogsScopeLogs = 2;
inline constexpr uint32_t kScopeLogsScope = 1;
inline constexpr uint32_t kScopeLogsRecords = 2;
inline constexpr uint32_t kRecordTime = 1;
inline constexpr uint32_t kRecordSeverityNumber = 2;
inline constexpr uint32_t kRecordSeverityText = 3;
inline constexpr uint32_t kRecordBody = 5;
inline constexpr uint32_t kRecordAttributes = 6;
inline constexpr uint32_t kRecordDroppedAttributes = 7;
inline constexpr uint32_t kRecordFlags = 8;
inline constexpr uint32_t kRecordTraceId = 9;
inline constexpr uint32_t kRecordSpanId = 10;
inline constexpr uint32_t kRecordObservedTime = 11;
inline constexpr uint32_t kRecordEventName = 12;

}  // namespace sluice::wire::otlp::field
