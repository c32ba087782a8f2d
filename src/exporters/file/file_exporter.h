#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/clock.h"
#include "io/file_system.h"
#include "pipeline/component.h"

namespace sluice::exporters::file {

struct RotationOptions {
  int64_t max_megabytes = 100;
  int64_t max_backups = 100;  // 0 keeps every backup
};

struct FileOptions {
  std::string path;
  RotationOptions rotation;
};

const config::Schema<FileOptions>& FileOptionsSchema();

// Appends lines to `path`, rotating it by size: the full file is renamed to
// `<stem>-<UTC time><ext>` (with -N added on a clash) and the oldest backups
// beyond max_backups are removed. Not thread-safe.
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
  // Appends data (whole lines), rotating first if the file is full.
  Status Write(std::string_view data);
  // Makes everything written durable.
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
