#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "pipeline/component.h"
#include "pipeline/read_loop.h"
#include "query/params.h"

namespace sluice::query {

// A latency histogram: counts per base-2 exponential bucket at scale 3
// (bucket i holds durations in (2^(i/8), 2^((i+1)/8)] seconds, 9% apart),
// kept as a sorted list of the buckets that hold anything. A quantile is
// answered with its bucket's middle, within 4.5% of any value the bucket
// holds.
class Sketch {
 public:
  static constexpr int32_t kZero = -100000;  // the bucket of durations <= 1 ns

  // The bucket of a duration in seconds.
  static int32_t IndexOf(double seconds);
  // The value a quantile falling in bucket `index` is answered with.
  static double ValueOf(int32_t index);

  void Add(int32_t index, uint64_t count);
  void Merge(const Sketch& other);
  // This cumulative histogram minus an earlier one of the same series
  // (bucket counts never below zero).
  Sketch Minus(const Sketch& earlier) const;
  uint64_t count() const;
  bool empty() const { return buckets_.empty(); }
  // The duration (seconds) below which a fraction q of the counts lie; NaN
  // when empty.
  double Quantile(double q) const;

  // A compact form (varints of index deltas and counts) and back.
  void EncodeTo(std::string* out) const;
  static bool Decode(std::string_view in, Sketch* out);

  const std::vector<std::pair<int32_t, uint64_t>>& buckets() const { return buckets_; }

 private:
  std::vector<std::pair<int32_t, uint64_t>> buckets_;  // ascending index
};

// What one series did in one slot of time.
struct Totals {
  uint64_t calls = 0;
  uint64_t errors = 0;
  double sum_seconds = 0;
  Sketch latency;

  void Merge(const Totals& other);
};

// The rollups: calls, errors and latency per service, operation and edge of
// the service graph, per 10 s for the last hour and per minute before that,
// from the cumulative metrics the spanmetrics and servicegraph connectors
// append. Memory is bounded: past `max_bytes` the oldest minutes go first,
// then the oldest 10 s slots.
//
// Thread-compatible: RollupReader serializes its writes with its readers.
class Rollups {
 public:
  enum class Kind : uint8_t { kService = 0, kServiceAll = 1, kOperation = 2, kEdge = 3 };
  struct Series {
    Kind kind;
    std::string a, b, c;      // service, -, - | service, name, span kind | client, server, type
    std::string tenant = {};  // of the spans behind it, as stored ("" for none)
  };
  struct Options {
    int64_t fine_step_nanos = 10'000'000'000;
    int64_t fine_span_nanos = 3'600'000'000'000;
    int64_t coarse_step_nanos = 60'000'000'000;
    int64_t coarse_span_nanos = 7 * 86'400'000'000'000;
    uint64_t max_bytes = 64ull << 20;
  };

  explicit Rollups(Options options);

  // Adds what a series did at `time` (to both resolutions).
  void Add(const Series& series, int64_t time_unix_nano, const Totals& delta);
  // Adds one cumulative point of a connector's metric, keyed by `point_key`
  // (the metric and its attributes): its difference from the last point of
  // the same key goes to each of `series`. A point whose start time changed
  // or whose count went down starts over (its whole value is the delta).
  // `counts` says what the point's count is: calls, failed calls, both, or
  // neither (a latency histogram of calls counted elsewhere). Its latency
  // (empty for a counter) is added in every case.
  struct Point {
    int64_t start_unix_nano = 0;
    int64_t time_unix_nano = 0;
    uint64_t count = 0;
    double sum_seconds = 0;
    Sketch latency;  // cumulative
  };
  enum class Counts { kCalls, kErrors, kCallsAndErrors, kLatencyOnly };
  void AddCumulative(uint64_t point_key, const Point& point, Counts counts,
                     const std::vector<Series>& series);
  // Forgets last points not updated for an hour.
  void ExpireCumulative(int64_t now_unix_nano);

  // Calls fn for the totals of every series of the tenant `scope` admits in
  // each slot overlapping [from, to), at the finest resolution that covers
  // `from` (10 s within the last hour of data, else 1 min). Returns that
  // resolution's step.
  int64_t ForEach(
      int64_t from_unix_nano, int64_t to_unix_nano, const TenantScope& scope,
      const std::function<void(const Series&, int64_t slot_start, const Totals&)>& fn) const;
  // Whether `service` has reported spans of its own (not only named as a
  // peer) in what the rollups hold of the tenant `scope` admits.
  bool HasService(const TenantScope& scope, std::string_view service) const;

  uint64_t bytes() const { return bytes_; }
  uint64_t evictions() const { return evictions_; }

  std::string Serialize() const;
  Status Deserialize(std::string_view bytes);

 private:
  struct Cell {
    uint32_t series;
    uint64_t calls = 0, errors = 0;
    double sum = 0;
    std::string latency;  // Sketch::EncodeTo
  };
  struct Slot {
    int64_t start = 0;
    std::vector<Cell> cells;
    uint64_t bytes = 0;
  };
  struct Tier {
    int64_t step = 0, span = 0;
    std::deque<Slot> slots;  // ascending start
    // The newest slot's cells by series.
    absl::flat_hash_map<uint32_t, uint32_t> newest;
  };
  struct Last {
    int64_t start = 0, seen = 0;
    uint64_t count = 0;
    double sum = 0;
    Sketch latency;
  };

  uint32_t SeriesId(const Series& s);
  void AddTo(Tier& tier, uint32_t series, int64_t time, const Totals& delta);
  void DropOldest(Tier& tier);
  void Trim();
  static uint64_t CellBytes(const Cell& c);

  Options options_;
  std::vector<Series> series_;
  absl::flat_hash_map<std::string, uint32_t> series_ids_;
  Tier fine_, coarse_;
  absl::flat_hash_map<uint64_t, Last> last_;
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
};

// Reads the metrics the connectors append (the derived pipelines) through
// its own ReadLoop (cursor `query/rollups`) into Rollups, and checkpoints
// them with their position in the log every minute and at stop
// (<storage>/query/rollups.state): a restart restores them and skips what
// they already hold.
//
// Thread-safety: Start and Stop from one thread; Read from any.
class RollupReader final : private pipeline::LogSink {
 public:
  static constexpr const char* kCursor = "query/rollups";

  RollupReader(pipeline::Runtime& rt, std::vector<pipeline::PipelineRef> derived,
               Rollups::Options options);
  ~RollupReader() override;

  Status Start();
  void Stop(pipeline::Deadline deadline);

  // Runs fn with the rollups locked against the reader.
  void Read(const std::function<void(const Rollups&)>& fn) const;

  // Adds an OTLP ExportMetricsServiceRequest of spanmetrics and
  // servicegraph metrics (others are ignored) stored with `tenant` ("" for
  // none). For tests and the reader.
  static Status AddRequest(std::string_view request, std::string_view tenant, Rollups* into);

 private:
  Status Take(const log::LogReader::Batch& batch, const log::Position& start) override;
  Result<log::Position> Committable(const log::Position& read) override;
  void Load();

  pipeline::Runtime& rt_;
  const std::vector<pipeline::PipelineRef> derived_;
  const std::string path_;
  pipeline::ExporterMetrics metrics_;
  telemetry::Counter& evictions_;
  telemetry::Gauge& bytes_;
  std::unique_ptr<pipeline::ReadLoop> loop_;
  std::optional<log::Position> resume_;
  int64_t last_checkpoint_ = 0;
  uint64_t evictions_seen_ = 0;

  mutable Mutex mu_;
  Rollups rollups_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace sluice::query
