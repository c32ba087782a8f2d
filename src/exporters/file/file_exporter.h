#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/clock.h"
#include "io/file_system.h"
#include "pipeline/component.h"
#include "wire/compression.h"

namespace sluice::exporters::file {

struct RotationOptions {
  int64_t max_megabytes = 100;
  int64_t max_backups = 100;  // 0 keeps every backup
};

struct FileOptions {
  std::string path;
  // kNone or kZstd: each write becomes one complete zstd frame.
  wire::Compression compression = wire::Compression::kNone;
  RotationOptions rotation;
  log::StartAt start_at = log::StartAt::kOldest;
};

const config::Schema<FileOptions>& FileOptionsSchema();

// Appends records (whole lines, or zstd frames of whole lines) to `path`,
// rotating it by size: the full file is renamed to `<stem>-<UTC time><ext>`,
// where <ext> is the part after the last dot (so spans.jsonl.zst becomes
// spans.jsonl-<time>.zst), with -N added on a clash; the oldest backups
// beyond max_backups are removed. A record is never split between files.
// Not thread-safe.
class RotatingFile {
 public:
  RotatingFile(io::FileSystem& fs, Clock& clock, std::string path, uint64_t max_bytes,
               int64_t max_backups)
      : fs_(fs),
        clock_(clock),
        path_(std::move(path)),
        max_bytes_(max_bytes),
        max_backups_(max_backups) {}

  Status Open();
  // Appends one record, rotating first if it would take a non-empty file past
  // max_bytes (a record larger than max_bytes gets a file of its own). The
  // bytes are in the page cache when this returns, not yet durable.
  Status Write(std::string_view data);
  // Makes everything written durable (fdatasync).
  Status Sync();
  Status Close();
  // Backup file names in the directory, oldest first.
  Result<std::vector<std::string>> Backups() const;

 private:
  Status Rotate();
  std::string BackupName(int attempt) const;

  io::FileSystem& fs_;
  Clock& clock_;
  const std::string path_;
  const uint64_t max_bytes_;
  const int64_t max_backups_;
  std::unique_ptr<io::WritableFile> file_;
};

// The `file` exporter type's registration record.
pipeline::ComponentType FileExporterType();

}  // namespace sluice::exporters::file
