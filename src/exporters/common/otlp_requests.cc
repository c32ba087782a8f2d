#include "exporters/common/otlp_requests.h"

#include "wire/proto_reader.h"

namespace sluice::exporters {

size_t OtlpSignalIndex(log::Signal s) {
  switch (s) {
    case log::Signal::kTraces:
      return 0;
    case log::Signal::kMetrics:
      return 1;
    case log::Signal::kLogs:
      return 2;
  }
  return 0;
}

void ReadOtlpPartialSuccess(std::string_view body, uint64_t* rejected, std::string* message) {
  wire::ProtoReader r(body);
  while (r.Next()) {
    if (r.field() != 1 || !r.Is(wire::WireType::kLengthDelimited)) continue;
    wire::ProtoReader p(r.bytes());
    while (p.Next()) {
      if (p.field() == 1 && p.Is(wire::WireType::kVarint)) {
        *rejected = p.varint();
      } else if (p.field() == 2 && p.Is(wire::WireType::kLengthDelimited)) {
        *message = std::string(p.bytes());
      }
    }
  }
}

OtlpConcatEncoder::OtlpConcatEncoder(uint64_t max_bytes, telemetry::Counter& unsupported_items)
    : max_bytes_(max_bytes), unsupported_items_(unsupported_items) {
  for (log::Signal s : {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}) {
    open_[OtlpSignalIndex(s)].signal = s;
    open_[OtlpSignalIndex(s)].route = Route(s);
  }
}

const char* OtlpConcatEncoder::Route(log::Signal signal) {
  switch (signal) {
    case log::Signal::kTraces:
      return "/v1/traces";
    case log::Signal::kMetrics:
      return "/v1/metrics";
    case log::Signal::kLogs:
      return "/v1/logs";
  }
  return "/v1/traces";
}

void OtlpConcatEncoder::EmitOpen(size_t i, const EmitFn& emit) {
  pipeline::OutboundRequest& r = open_[i];
  if (r.body.empty()) return;
  pipeline::OutboundRequest out;
  out.signal = r.signal;
  out.route = r.route;
  out.body = std::move(r.body);
  out.items = r.items;
  out.first_record = r.first_record;
  r.body = std::string();
  r.body.reserve(std::min<uint64_t>(max_bytes_, 1u << 20));
  r.items = 0;
  emit(std::move(out));
}

void OtlpConcatEncoder::Add(const log::LogReader::Batch& batch, uint64_t record,
                            const EmitFn& emit) {
  if (batch.header.encoding != log::Encoding::kOtlpProto) {
    unsupported_items_.Inc(batch.header.item_count);
    return;
  }
  if (batch.payload.empty()) return;
  size_t i = OtlpSignalIndex(batch.header.signal);
  pipeline::OutboundRequest& r = open_[i];
  if (!r.body.empty() && r.body.size() + batch.payload.size() > max_bytes_) EmitOpen(i, emit);
  if (r.body.empty()) r.first_record = record;
  r.body.append(batch.payload);
  r.items += batch.header.item_count;
  if (r.body.size() >= max_bytes_) EmitOpen(i, emit);
}

void OtlpConcatEncoder::Flush(const EmitFn& emit) {
  for (size_t i = 0; i < 3; ++i) EmitOpen(i, emit);
}

std::optional<uint64_t> OtlpConcatEncoder::OldestHeld() const {
  std::optional<uint64_t> oldest;
  for (const auto& r : open_) {
    if (!r.body.empty() && (!oldest || r.first_record < *oldest)) oldest = r.first_record;
  }
  return oldest;
}

}  // namespace sluice::exporters
