#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/schema.h"
#include "pipeline/component.h"

namespace sluice::processors::accepted {

// The Collector's `batch` and `memory_limiter` processors, accepted so a
// Collector configuration loads unchanged, and run as nothing: the log
// already batches (each exporter builds requests of its own size from the
// stored batches) and `service.max_in_flight_bytes` already limits the
// memory receivers hold (503 + Retry-After beyond it). Their options are
// checked as the Collector checks them and the start-up log says what each
// instance maps to.
struct BatchOptions {
  int64_t send_batch_size = 8192;
  int64_t send_batch_max_size = 0;
  std::chrono::nanoseconds timeout = std::chrono::milliseconds(200);
  std::vector<std::string> metadata_keys;
  int64_t metadata_cardinality_limit = 1000;
};

struct MemoryLimiterOptions {
  std::chrono::nanoseconds check_interval = std::chrono::seconds(0);
  int64_t limit_mib = 0;
  int64_t spike_limit_mib = 0;
  int64_t limit_percentage = 0;
  int64_t spike_limit_percentage = 0;
};

const config::Schema<BatchOptions>& BatchOptionsSchema();
const config::Schema<MemoryLimiterOptions>& MemoryLimiterOptionsSchema();
pipeline::ComponentType BatchProcessorType();
pipeline::ComponentType MemoryLimiterProcessorType();

// A processor that leaves every batch as received.
class PassThrough final : public pipeline::Processor {
 public:
  Status Process(const Input&, Output*) const override { return Status::Ok(); }
};

}  // namespace sluice::processors::accepted
