#pragma once

#include <atomic>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "backfill/feed.h"
#include "pipeline/component.h"
#include "pipeline/service_config.h"

namespace sluice::backfill {

// `sluice backfill` and `sluice replay` as the command line gives them.
struct Args {
  std::string config;    // the configuration file naming the exporter
  std::string exporter;  // its id
  // backfill: what to read (see ParseFrom); replay: "log".
  std::string from;
  std::string start, end;               // RFC 3339, Unix seconds, "now" or "-<duration>" (ago)
  std::vector<std::string> match;       // series selectors (Prometheus sources)
  std::vector<std::string> processors;  // ids from the configuration's processors
  std::string rate;                     // "50000" items/s or "8MiB" bytes/s; "" none
  int concurrency = 0;                  // 0: the exporter's sending_queue.num_consumers
  std::string slice = "1h";             // remote read: the time slice of one request
  std::string checkpoint;               // "" : under storage.directory/backfill/
  std::string checkpoint_interval = "2s";
  bool restart = false;
  bool quiet = false;
  // Progress every this often when not on a terminal.
  std::string progress_interval = "5s";
  // replay: the running sluice's admin address ("" : the configuration's),
  // or read the log directly.
  std::string admin;
  bool offline = false;
};

// A run made ready: its source, processors and started fed exporter.
struct Job {
  Args args;
  std::string command;          // "backfill" or "replay"
  pipeline::FeedSettings feed;  // the exporter refers to it
  std::unique_ptr<Source> source;
  std::vector<std::shared_ptr<const pipeline::Processor>> processors;
  std::unique_ptr<pipeline::Exporter> exporter;
  pipeline::FedExporter* fed = nullptr;  // exporter, as fed
  std::unique_ptr<Checkpoint> checkpoint;
  FeedOptions options;
  std::string exporter_type;

  ~Job();
  // From any thread (a signal's): stops waiting on the source's network and
  // on the exporter's queue (FedExporter::Interrupt); Run then ends with
  // what is queued sent for an interval and the checkpoint saved.
  void Interrupt();
  // Feeds the source to its end (see Feed), then stops the exporter; a stop
  // by a destination that refuses old samples gets OldSamplesMessage as
  // its reason.
  Summary Run(const std::atomic<bool>& stop, std::ostream& progress, FeedStatus* status = nullptr);
};

// Makes the job `args` describe from a loaded configuration. A replay
// (args.from == "log") reads rt.log, which must be set. `progress_mode`:
// how Feed shows progress.
Result<std::unique_ptr<Job>> PrepareJob(const Args& args, const pipeline::ServiceConfig& cfg,
                                        pipeline::Runtime& rt, ProgressOptions::Mode progress_mode);

// Called with the job once it runs and with null when it ends, so that a
// signal handler can Interrupt it.
using JobHook = std::function<void(Job*)>;

// Runs `sluice backfill` (or, with args.from == "log", an offline replay of
// the log): loads the configuration, makes the source, the processors and
// the exporter fed by them, runs Feed and prints the summary line to `out`
// and progress and errors to `err`. Returns the exit code: 0 success,
// 1 partial (dead letters), 2 failure (including bad arguments).
int RunBackfill(const Args& args, const pipeline::Catalog& catalog, std::ostream& out,
                std::ostream& err, const std::atomic<bool>& stop, const JobHook& hook);

// Parses a time: RFC 3339 ("2026-01-02T15:04:05Z", fractions and offsets
// allowed), Unix seconds ("1767366245.5"), "now", or "-6h" (before now).
Result<int64_t> ParseTimeMs(std::string_view text, int64_t now_ms);

// Whether a destination's refusal says the samples are too old for it
// (Prometheus' "out of bounds", "too old" and "out of order sample"), and
// for log records (Loki's "too old", "too far behind", "out of order").
bool RefusesOldSamples(std::string_view reason);
bool RefusesOldLogs(std::string_view reason);
// What a run stopped by such a refusal tells the user: the cause and the
// remedy, for Prometheus-compatible and Loki destinations.
std::string OldSamplesMessage(std::string_view exporter, std::string_view reason);
std::string OldLogsMessage(std::string_view exporter, std::string_view reason);

}  // namespace sluice::backfill
