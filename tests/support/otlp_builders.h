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

// `series` series of `samples` samples each, labels sorted as the remote
// write specification requires.
prometheus::WriteRequest MakeWriteRequest(int series, int samples, uint64_t seed);
// As MakeWriteRequest, one series per timestamp, each with one sample at it.
prometheus::WriteRequest MakeWriteRequestAt(const std::vector<int64_t>& timestamps);

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
