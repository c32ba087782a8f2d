#pragma once

#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "pipeline/component.h"
#include "receivers/common/ingest.h"
#include "receivers/prometheus/fetch.h"
#include "receivers/prometheus/scrape_config.h"
#include "relabel/labels.h"
#include "scheduler/scheduler.h"
#include "wire/prom/exposition.h"

namespace sluice::receivers::prometheus {

// A target after relabel_configs: its labels (sorted by name, without the
// `__` meta labels) and where to scrape it.
struct Target {
  std::vector<std::pair<std::string, std::string>> labels;
  std::string scheme, host, port, path;  // path with its query
  uint64_t hash = 0;                     // of the labels and URL: its phase and shard
  // From __scrape_interval__ and __scrape_timeout__ after relabelling (the
  // job's unless a rule changed them).
  std::chrono::nanoseconds interval{0}, timeout{0};
  std::string url() const { return scheme + "://" + host + ":" + port + path; }
};

// Turns a discovered address and its group's labels into a Target by
// Prometheus' rules: the meta labels (__address__, __scheme__,
// __metrics_path__, __scrape_interval__, __scrape_timeout__, __param_*) and
// `job` are set, relabel_configs run, `instance` defaults to __address__,
// and labels starting with `__` are dropped. Nullopt when a rule dropped it;
// InvalidArgument when the address left is not host:port.
Result<std::optional<Target>> MakeTarget(
    const ScrapeConfig& config, std::string_view address,
    const std::vector<std::pair<std::string, std::string>>& group_labels);

// What every target of a job shares: its configuration, where samples go
// and the receiver's counters.
struct ScrapeJob {
  ScrapeConfig config;
  std::vector<std::pair<std::string, std::string>> external_labels;
  std::vector<pipeline::PipelineRef> pipelines;
  pipeline::Runtime* rt = nullptr;
  IngestCounters* counters = nullptr;
  telemetry::CounterFamily* scrapes = nullptr;  // by receiver, job, result
  telemetry::Counter* truncated = nullptr;      // samples past sample_limit (truncate)
  std::string receiver;
  // For https targets: the job's client TLS context (tls_config, or the
  // system's CAs).
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  // Set while target_limit is exceeded: every target's scrape fails.
  std::shared_ptr<std::atomic<bool>> over_target_limit = std::make_shared<std::atomic<bool>>(false);
};

// One target's scrapes: fetch (streamed, gzip inflated as it arrives),
// parse as it arrives, label and relabel each sample, and store the scrape
// into the log as one remote write request with the target's `up`,
// `scrape_duration_seconds`, `scrape_samples_scraped`,
// `scrape_samples_post_metric_relabeling` and `scrape_series_added`.
// Staleness as Prometheus writes it: a series of the previous scrape that
// is missing from this one, every series of the previous scrape when this
// one failed, and every series when the target goes away, get a stale
// marker (the StaleNaN value).
//
// The series of the last scrape are kept as their 64-bit hashes and encoded
// labels, compressed with zstd, rebuilt only when the set of series changed
// (a hash over the scrape's series says so); between scrapes a target holds
// that and little else.
//
// Thread-safety: runs one at a time (the scheduler's), on I/O threads.
class ScrapeLoop final : public FetchHandler, public std::enable_shared_from_this<ScrapeLoop> {
 public:
  ScrapeLoop(std::shared_ptr<const ScrapeJob> job, Target target);
  ~ScrapeLoop() override;

  // The scheduler's run.
  void Run(int64_t deadline_mono_nanos, scheduler::Done done);
  // The target went away: stores stale markers for every series of its last
  // successful scrape, now or, when a scrape is going, once it is over.
  void MarkGone();

  const Target& target() const { return target_; }

 private:
  Status OnHeaders(int status, std::string_view content_type,
                   std::string_view content_encoding) override;
  Status OnBody(std::string_view chunk) override;
  void OnDone(Status status) override;

  Status Parse(std::string_view text);
  void AddSample(const wire::prom::ExpositionSample& s);
  // The sample's labels with the target's and the external ones, sorted,
  // into merged_: as views, without copying (false, merged_ unspecified,
  // when a clash needs exported_<name>) ...
  bool MergeLabels(const wire::prom::ExpositionSample& s);
  // ... or through labels_, with metric_relabel_configs (false when they
  // dropped the sample).
  bool RelabelLabels(const wire::prom::ExpositionSample& s);
  // Encodes one series of `merged_` with one sample; returns the labels'
  // bytes within payload_.
  std::pair<size_t, size_t> Encode(double value, int64_t timestamp_ms);
  void AppendSeries(std::string* out, std::string_view labels, double value, int64_t ts) const;
  void AppendAutoMetrics(std::string* out, bool up, double seconds, uint64_t scraped,
                         uint64_t post_relabel, uint64_t added, int64_t ts) const;
  // Stale markers for the previous scrape's series whose hashes are not in
  // `keep` (sorted); all of them when keep is null.
  // The previous scrape's hashes go to `previous` when given.
  uint64_t AppendStale(std::string* out, const std::vector<uint64_t>* keep, int64_t ts,
                       std::vector<uint64_t>* previous = nullptr) const;
  void StoreStaleForAll(int64_t now_ms);
  // credentials_file_'s contents without a final newline.
  std::string ReadSecret() const;
  void Store(std::string payload, uint64_t items, int64_t min_ms, int64_t max_ms);

  const std::shared_ptr<const ScrapeJob> job_;
  const Target target_;
  std::shared_ptr<Fetcher> fetcher_;
  // A credentials file read at each scrape into the last header: Basic
  // with basic_user_ when that is set, else credentials_prefix_ and the
  // file's contents.
  std::string credentials_file_, credentials_prefix_, basic_user_;
  // The labels of the scrape's own series (up, ...): the target's and the
  // external ones it lacks.
  std::vector<std::pair<std::string, std::string>> auto_labels_;
  // The external labels the target lacks, sorted.
  std::vector<std::pair<std::string, std::string>> external_;
  net::Headers headers_;

  // Whether a scrape is going, and whether the target went away meanwhile.
  Mutex state_mu_;
  bool running_ SLUICE_GUARDED_BY(state_mu_) = false;
  bool gone_ SLUICE_GUARDED_BY(state_mu_) = false;

  // One scrape's state.
  scheduler::Done done_;
  std::shared_ptr<ScrapeLoop> self_;  // while a scrape runs
  int64_t start_unix_ms_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::optional<wire::prom::ExpositionParser> parser_;  // kept across scrapes
  bool parsing_ = false;                                // a 200 answer's body is being parsed
  bool gzip_ = false;
  z_stream zs_{};
  bool zs_open_ = false;
  std::string inflated_;
  uint64_t body_bytes_ = 0;
  Status error_;
  uint64_t scraped_count_ = 0, post_relabel_ = 0, kept_ = 0;
  int64_t min_ms_ = 0, max_ms_ = 0;
  std::string payload_;
  struct SeriesRef {
    uint64_t hash;       // of its encoded labels
    size_t begin, end;   // its labels' bytes in payload_
    bool stale_tracked;  // without a timestamp of its own (Prometheus marks
                         // only those stale)
  };
  std::vector<SeriesRef> series_;
  std::vector<std::pair<std::string_view, std::string_view>> scraped_, merged_;
  size_t external_added_ = 0;  // of merged_: external labels (not counted by label_limit)
  relabel::LabelSet labels_;
  std::string label_scratch_, value_scratch_;

  // The last successful scrape's series.
  size_t last_count_ = 0;  // series of the last scrape
  uint64_t last_signature_ = 0;
  std::string last_labels_;  // zstd of (varint length, encoded labels) per series
};

}  // namespace sluice::receivers::prometheus
