#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "log/cursors.h"
#include "log/format.h"

namespace sluice::backfill {

// The part of history a run sends: event times in [start, end], in
// milliseconds since the epoch (inclusive).
struct TimeRange {
  int64_t start_ms = INT64_MIN;
  int64_t end_ms = INT64_MAX;
  bool Contains(int64_t ms) const { return ms >= start_ms && ms <= end_ms; }
  // A batch whose event times span [min_ms, max_ms] has some inside.
  bool Overlaps(int64_t min_ms, int64_t max_ms) const {
    return max_ms >= start_ms && min_ms <= end_ms;
  }
};

// A piece of input ready for an exporter: what a log batch holds, and where
// it began in the input.
struct InputBatch {
  log::Signal signal = log::Signal::kMetrics;
  log::Encoding encoding = log::Encoding::kPromRemoteWriteProto;
  std::string payload;
  std::string tenant;  // "" for the default tenant
  uint64_t items = 0;  // spans, points (samples) or log records
  int64_t min_event_unix_nanos = 0;
  int64_t max_event_unix_nanos = 0;
  // Where the batch began: a position Seek takes to read it again. Its
  // record_offset grows from batch to batch within a run.
  log::Position start;
};

// Reads history in order, a batch at a time, and can continue from a
// position an earlier run stopped at. Every position is the source's own:
// `segment` numbers an input (a file of a set, a time slice, a segment of
// the log) and `byte_offset` a place in it. Batches begin only where
// reading can begin again. Used from one thread.
class Source {
 public:
  virtual ~Source() = default;
  // Continues at `at`: a batch's start or position() from an earlier run of
  // the same source (with the same options). Called before the first Next.
  virtual Status Seek(const log::Position& at) = 0;
  // Fills *out with the next batch: false at the end of the input. Errors
  // name the input and place (file and line, time slice).
  virtual Result<bool> Next(InputBatch* out) = 0;
  // Past the last batch returned (the end, once Next returned false).
  virtual log::Position position() const = 0;
  // Input bytes read so far, and their total when known up front (0: not
  // known), for progress.
  virtual uint64_t bytes_read() const = 0;
  virtual uint64_t total_bytes() const = 0;
  // Items read but not sent because they lie outside the time range or
  // the selectors.
  virtual uint64_t skipped_items() const = 0;
  // From any thread (a signal's): a Next waiting on the network returns an
  // error soon instead.
  virtual void Interrupt() {}
};

}  // namespace sluice::backfill
