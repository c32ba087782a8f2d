#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "io/file_system.h"
#include "pipeline/sender.h"
#include "telemetry/metrics.h"

namespace sluice::exporters {

// An exporter's dead-letter queue: requests that failed permanently, or
// whose retries ran past max_elapsed_time, kept on disk until an operator
// replays or purges them (`sluice dlq list|replay|purge`).
//
// One file per request in `<storage.directory>/dlq/<exporter>/`, named by a
// increasing 20-digit id, written to a temporary name, fsynced and renamed,
// so a crash leaves either the whole entry or none. File layout (integers
// little-endian):
//
//   magic "SLDLQ002" | crc32c u32 (of everything after it) | unix_nanos u64
//   | signal u8 | items u64 | route_len u32 | reason_len u32 | body_len u64
//   | tenant_len u32 | route | reason | tenant | body
//
// Entries of version 1 ("SLDLQ001": no tenant_len, no tenant) are read too.
//
// The queue is bounded by max_bytes: the oldest entries are deleted to make
// room, counted in sluice_dlq_evicted_{records,bytes}_total{exporter}.
// Thread-safe.
class DeadLetterQueue {
 public:
  struct Entry {
    uint64_t id = 0;
    int64_t unix_nanos = 0;
    log::Signal signal = log::Signal::kTraces;
    std::string route;
    std::string reason;
    std::string tenant;
    uint64_t items = 0;
    uint64_t bytes = 0;  // file size
    // False when the entry's header does not parse (`reason` then says why,
    // starting "unreadable: "); a stored reason may start so too.
    bool readable = true;
  };

  // Opens (creating) the queue's directory and takes stock of its entries.
  // `registry` may be null (the CLI).
  static Result<std::unique_ptr<DeadLetterQueue>> Open(io::FileSystem& fs, std::string directory,
                                                       std::string exporter, uint64_t max_bytes,
                                                       telemetry::Registry* registry);

  // Keeps a request. A request larger than max_bytes is not kept (counted as
  // evicted). Returns the error if the disk refuses (io::IsDiskFull tells a
  // full disk): the request is then not kept, nothing of it is left on disk
  // (its temporary file is removed), the counts and gauges are unchanged,
  // and the caller still owns it and may Put it again.
  Status Put(const pipeline::OutboundRequest& request, std::string_view reason, int64_t unix_nanos);
  // Entries, oldest first (headers only).
  Result<std::vector<Entry>> List();
  // One entry's request; Corruption if its checksum does not match.
  Result<pipeline::OutboundRequest> Read(uint64_t id);
  Status Remove(uint64_t id);
  // Removes every entry; returns how many.
  Result<uint64_t> Purge();

  uint64_t bytes() const;
  uint64_t records() const;
  const std::string& directory() const { return dir_; }

  // `<storage>/dlq/<exporter id>` with '/' in the id made safe for a name.
  static std::string DirectoryFor(std::string_view storage_directory, std::string_view exporter);

 private:
  DeadLetterQueue(io::FileSystem& fs, std::string dir, std::string exporter, uint64_t max_bytes,
                  telemetry::Registry* registry);
  std::string PathOf(uint64_t id) const;
  Status Scan();
  void UpdateGauges();

  io::FileSystem& fs_;
  const std::string dir_;
  const std::string exporter_;
  const uint64_t max_bytes_;
  telemetry::Counter* evicted_records_ = nullptr;
  telemetry::Counter* evicted_bytes_ = nullptr;
  telemetry::Counter* written_records_ = nullptr;
  telemetry::Gauge* bytes_gauge_ = nullptr;
  telemetry::Gauge* records_gauge_ = nullptr;

  mutable std::mutex mu_;
  struct Held {
    uint64_t id;
    uint64_t bytes;
    uint64_t items;
  };
  std::vector<Held> held_;  // oldest first
  uint64_t total_bytes_ = 0;
  uint64_t next_id_ = 1;
};

}  // namespace sluice::exporters
