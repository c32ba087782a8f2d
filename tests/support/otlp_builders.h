#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "prometheus/remote.pb.h"
#include "prometheus/remote_v2.pb.h"
#include "support/http_client.h"

namespace sluice::testing {

namespace otlp_pb = opentelemetry::proto;

// A request with `resources` resources × `spans_per_resource` spans, each span
// carrying distinct ids and attributes derived from `seed` so tests can find
// every one of them later. Built with the protobuf library, independently of
// sluice's own encoder.
otlp_pb::collector::trace::v1::ExportTraceServiceRequest MakeTraceRequest(int resources,
                                                                          int spans_per_resource,
                                                                          uint64_t seed);

// `n` log records with bodies, severities and trace context.
otlp_pb::collector::logs::v1::ExportLogsServiceRequest MakeLogsRequest(int n, uint64_t seed);

// One gauge (`points` points), one cumulative sum and one histogram (3 bounds).
otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest MakeMetricsRequest(int points,
                                                                                uint64_t seed);

// Service "checkout"'s gauge queue.size (unit By, 42.5), monotonic
// cumulative sum orders (7) and cumulative histogram latency (unit s: count
// 6, sum 3, bounds 0.1 and 1 holding 1, 2 and 3), every point at `unix_ms`:
// one metric of each type whose translated names and values tests check.
otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest MakeCheckoutMetrics(int64_t unix_ms);

// `series` series of `samples` samples each, labels sorted as the remote
// write specification requires.
prometheus::WriteRequest MakeWriteRequest(int series, int samples, uint64_t seed);
// As MakeWriteRequest, one series per timestamp, each with one sample at it.
prometheus::WriteRequest MakeWriteRequestAt(const std::vector<int64_t>& timestamps);

// POSTs `request` to the remote write receiver at `host_port`
// (/api/v1/write), snappy-compressed with the remote write 1.0 headers, as
// Prometheus sends it.
HttpResult PostRemoteWrite(const std::string& host_port, const prometheus::WriteRequest& request);

// The remote write 2.0 form of a 1.0 request: strings interned into symbols
// (symbols[0] = ""), labels as labels_refs, samples, exemplars and histograms
// carried over. 1.0 metadata is not carried over.
::io::prometheus::write::v2::Request ToRemoteWriteV2(const prometheus::WriteRequest& v1);

// Lower-case hex of bytes.
std::string Hex(const std::string& bytes);

// OTLP/JSON with its trace and span ids (hex there) rewritten in base64, the
// form protobuf's own JSON mapping gives bytes.
std::string OtlpJsonToProtobufJson(std::string_view otlp_json);

// Parses one OTLP/JSON export request with the protobuf library's JSON
// parser (JsonStringToMessage); false, with the reason in *error, if it
// refuses it.
bool ParseOtlpJson(std::string_view otlp_json, google::protobuf::Message* out, std::string* error);

}  // namespace sluice::testing
