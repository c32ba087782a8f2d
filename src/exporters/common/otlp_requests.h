#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "exporters/common/delivery.h"

namespace sluice::exporters {

// 0, 1, 2 for traces, metrics, logs.
size_t OtlpSignalIndex(log::Signal s);

// Reads an Export{Trace,Metrics,Logs}ServiceResponse (the same shape for the
// three signals: partial_success = 1 { rejected_* = 1, error_message = 2 }).
void ReadOtlpPartialSuccess(std::string_view body, uint64_t* rejected, std::string* message);

// Concatenates OTLP export requests of one signal into one request body (a
// protobuf message of repeated fields concatenates into their union), up to
// max_bytes. Batches in another encoding are skipped and counted.
class OtlpConcatEncoder final : public RequestEncoder {
 public:
  OtlpConcatEncoder(uint64_t max_bytes, telemetry::Counter& unsupported_items);
  void Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) override;
  void Flush(const EmitFn& emit) override;
  std::optional<uint64_t> OldestHeld() const override;

  // The HTTP path (and dead-letter route) of a signal's requests.
  static const char* Route(log::Signal signal);

 private:
  void EmitOpen(size_t i, const EmitFn& emit);

  const uint64_t max_bytes_;
  telemetry::Counter& unsupported_items_;
  pipeline::OutboundRequest open_[3];  // per signal
};

}  // namespace sluice::exporters
