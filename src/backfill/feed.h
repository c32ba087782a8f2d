#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "backfill/source.h"
#include "io/file_system.h"
#include "pipeline/component.h"

namespace sluice::backfill {

// How a run ended, and its exit code.
enum class Outcome {
  kSuccess = 0,  // everything read was accepted
  kPartial = 1,  // done, but some items were dead-lettered or refused
  kFailure = 2,  // stopped before the end: see Summary::reason
};

struct Summary {
  Outcome outcome = Outcome::kSuccess;
  std::string reason;  // why it failed or was partial ("" on success)
  uint64_t items = 0;  // accepted by the destination (this run)
  uint64_t skipped_items = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_sent = 0;  // of the accepted requests, uncompressed
  uint64_t requests = 0;
  uint64_t retried_items = 0;
  uint64_t dead_lettered_items = 0;
  uint64_t rejected_items = 0;
  uint64_t unsupported_items = 0;  // of a signal or encoding the exporter cannot send
  double seconds = 0;
  bool resumed = false;  // continued from a checkpoint
  log::Position checkpoint;
};

// The final line: `backfill result=success items=... seconds=...`, every
// value a word or a quoted string.
std::string FormatSummary(std::string_view command, const Summary& s);
// The summary line of a run that could not start.
std::string FailureLine(std::string_view command, std::string_view reason);

// Live progress: on a terminal a bar redrawn in place (percent and ETA when
// the input's size is known), else a plain line every `interval`; nothing
// when quiet. The final summary is printed by the caller either way.
struct ProgressOptions {
  enum class Mode { kBar, kLines, kQuiet } mode = Mode::kLines;
  std::chrono::milliseconds interval{5000};
};

// Where a run keeps its checkpoint: a file holding the source position up
// to which the destination accepted everything, and what the run is (the
// command's identity: source, exporter, range, selectors), so that another
// command never continues from it.
class Checkpoint {
 public:
  Checkpoint(io::FileSystem& fs, std::string path, std::string identity)
      : fs_(fs), path_(std::move(path)), identity_(std::move(identity)) {}
  // The position to continue from and whether the run had finished; none
  // (nullopt) when there is no checkpoint. An error when the file is
  // damaged or belongs to another command.
  struct Saved {
    log::Position position;
    bool finished = false;
  };
  Result<std::optional<Saved>> Load() const;
  Status Save(const log::Position& p, bool finished);
  Status Remove();
  const std::string& path() const { return path_; }

 private:
  io::FileSystem& fs_;
  const std::string path_;
  const std::string identity_;
};

// How far a run has come, as the progress line shows it.
struct Snapshot {
  uint64_t items = 0;       // accepted
  uint64_t bytes_sent = 0;  // of the accepted requests, uncompressed
  uint64_t retried_items = 0;
  uint64_t failed_items = 0;  // dead-lettered or refused
  uint64_t bytes_read = 0;
  uint64_t total_bytes = 0;  // 0: not known
};

// What a running Feed publishes for other threads (progress, the admin API).
struct FeedStatus {
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> total_bytes{0};
  Snapshot Take(const pipeline::FedExporter& exporter) const;
};

// Prints progress per ProgressOptions from `snapshot` (called on its own
// thread) until stopped; a bar is finished with a newline.
class ProgressPrinter {
 public:
  ProgressPrinter(std::string command, ProgressOptions options, std::function<Snapshot()> snapshot,
                  std::ostream& out);
  ~ProgressPrinter();
  void Stop();

 private:
  void Loop();
  void Print(bool bar);

  const std::string command_;
  const ProgressOptions options_;
  std::function<Snapshot()> snapshot_;
  std::ostream& out_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

struct FeedOptions {
  // Items (or bytes, with rate_bytes) per second; 0: as fast as the
  // destination takes them.
  double rate = 0;
  bool rate_bytes = false;
  std::chrono::milliseconds checkpoint_interval{2000};
  ProgressOptions progress;
  std::string command = "backfill";  // names the summary and progress lines
};

// Reads `source` to its end and feeds every batch, through `processors` in
// order, to `exporter` (started), saving `checkpoint` every
// checkpoint_interval and at the end; continues from it unless `restart`.
// Stops early when `stop` is set (a signal), when the exporter's feed
// stops (a refusal its FeedSettings::stop_on chose), or on a source error;
// the checkpoint then stays at what the destination accepted. Progress
// goes to `progress_out` (stderr), per FeedOptions.
// `status` (optional) is kept up to date for other threads.
Summary Feed(Source& source,
             const std::vector<std::shared_ptr<const pipeline::Processor>>& processors,
             pipeline::FedExporter& exporter, Checkpoint& checkpoint, bool restart,
             const FeedOptions& options, const std::atomic<bool>& stop, std::ostream& progress_out,
             FeedStatus* status = nullptr);

}  // namespace sluice::backfill
