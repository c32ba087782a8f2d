#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "telemetry/metrics.h"
#include "wire/prom/exposition.h"

namespace sluice::exporters::prometheus {

// What the store counts. Each reference outlives the store.
struct StoreCounters {
  telemetry::Counter& refused_series;  // new series beyond max_series, or a label-hash clash
  telemetry::Counter& expired_series;  // not updated within metric_expiration
  telemetry::Counter& stale_series;    // removed by a Prometheus stale marker
  telemetry::Counter& out_of_order;    // samples older than the one held, ignored
  telemetry::Gauge& series;            // series held
};

struct StoreOptions {
  // Put before every metric and family name as written ("<namespace>_"), or "".
  std::string name_prefix;
  bool send_timestamps = false;
  std::chrono::nanoseconds metric_expiration = std::chrono::minutes(5);
  size_t max_series = 1'000'000;
};

// One sample of one series, as the exporter hands it to the store.
struct SampleUpdate {
  uint64_t label_hash = 0;  // prw::SeriesSink's hash of the label set
  // The label set as prometheus.Label fields in canonical form (sorted by
  // name, empty values left out), __name__ included.
  std::string_view labels;
  std::string_view name;    // the __name__ value
  std::string_view family;  // the family it is written under (name, or its stem)
  wire::prom::MetricType type = wire::prom::MetricType::kUnknown;
  double value = 0;
  int64_t timestamp_ms = 0;
};

// The latest sample of every series the exporter has been sent, served as
// Prometheus text format 0.0.4.
//
// Layout: series are keyed by label hash (unordered_map: nodes never move)
// and each sits on the intrusive list of its family; families are ordered
// by name, which is the order they are served in. A series keeps its labels
// as encoded prometheus.Label bytes, its latest value and timestamp, and the
// clock's monotonic time of its last update.
//
// Rules:
//   - a sample older (by its timestamp) than the one held is ignored and
//     counted; one as old or newer replaces it;
//   - a Prometheus stale marker (kStaleNaNBits) as new as the held sample
//     removes the series;
//   - a new series when max_series are held is refused and counted;
//   - a series whose last update is metric_expiration or more ago is
//     removed by Expire (and counted).
//
// Thread-safety: every public method may be called from any thread. One
// mutex (mu_) guards series_ and families_: Apply and Expire hold it for
// one sample or one sweep; Render takes it once per family, so the writer
// (the exporter's read loop) waits for at most one family's text at a time
// and a family changed between two of them is served as it is then.
class SeriesStore {
 public:
  SeriesStore(StoreOptions options, Clock& clock, StoreCounters counters);
  SeriesStore(const SeriesStore&) = delete;
  SeriesStore& operator=(const SeriesStore&) = delete;

  // Applies one sample (see the rules above).
  void Apply(const SampleUpdate& update);

  // Removes the series not updated within metric_expiration of the clock's
  // monotonic now; returns how many.
  size_t Expire();

  // Writes the exposition, family by family (each family's text handed to
  // `write` once the lock is released): `# TYPE` when the type is known,
  // then one line per series, sorted by metric name and labels.
  void Render(const std::function<void(std::string_view)>& write) const;

  size_t size() const;

 private:
  struct Family;
  struct Series {
    std::string labels;
    double value = 0;
    int64_t timestamp_ms = 0;
    int64_t updated_ns = 0;
    Family* family = nullptr;
    Series* prev = nullptr;  // the family's list
    Series* next = nullptr;
  };
  struct Family {
    std::string_view name;  // the key of families_
    wire::prom::MetricType type = wire::prom::MetricType::kUnknown;
    Series* head = nullptr;
    size_t count = 0;
  };
  using SeriesMap = std::unordered_map<uint64_t, Series>;

  Family* FamilyFor(std::string_view name, wire::prom::MetricType type);  // requires mu_
  void Link(Series* s, Family* f);                                        // requires mu_
  void Unlink(Series* s);                                                 // requires mu_
  SeriesMap::iterator Remove(SeriesMap::iterator it);                     // requires mu_
  void AppendSeries(std::string& out, const Series& s, std::string_view name) const;

  const StoreOptions options_;
  Clock& clock_;
  StoreCounters counters_;

  mutable std::mutex mu_;
  SeriesMap series_;                                     // guarded by mu_
  std::map<std::string, Family, std::less<>> families_;  // guarded by mu_
};

// Text format 0.0.4 pieces, for the store and its tests.
// A sample value as Prometheus reads it back exactly: the shortest decimal
// that round-trips, or NaN, +Inf, -Inf.
void AppendValue(std::string& out, double v);
// "counter", "gauge", "histogram", "summary"; "" for types the 0.0.4 format
// has no word for (written without a # TYPE line).
std::string_view TypeWord(wire::prom::MetricType type);

}  // namespace sluice::exporters::prometheus
