#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "log/log.h"
#include "pipeline/component.h"

namespace sluice::exporters::debug {

// The OpenTelemetry Collector's `debug` exporter: what each pipeline
// forwards, written to stderr.
enum class Verbosity { kBasic, kNormal, kDetailed };

struct DebugOptions {
  Verbosity verbosity = Verbosity::kBasic;
  int64_t sampling_initial = 2;
  int64_t sampling_thereafter = 1;
  bool use_internal_logger = true;
};

const config::Schema<DebugOptions>& DebugOptionsSchema();
pipeline::ComponentType DebugExporterType();

// What one stored batch prints at `verbosity` (lines ending in '\n'):
//   basic     one line of counts ("traces: 1 batch, 2 resources, 7 spans");
//   normal    a line per span, log record, metric data point or series;
//   detailed  the items as OTLP/JSON lines (spans with their resource and
//             scope; a metrics or logs request per line), series with their
//             samples.
std::string Describe(const log::LogReader::Batch& batch, Verbosity verbosity);

// The Collector's sampling of its debug output: in each second, the first
// `initial` batches are printed, then every `thereafter`-th.
class Sampler {
 public:
  Sampler(int64_t initial, int64_t thereafter) : initial_(initial), thereafter_(thereafter) {}
  bool Take(int64_t now_unix_nanos);

 private:
  const int64_t initial_;
  const int64_t thereafter_;
  int64_t second_ = -1;
  int64_t count_ = 0;
};

}  // namespace sluice::exporters::debug
