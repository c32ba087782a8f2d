#include "log/options.h"

namespace sluice::log {

const config::Schema<LogOptions>& LogOptionsSchema() {
  static const config::Schema<LogOptions> schema = [] {
    config::Schema<LogOptions> s("storage");
    s.String("directory", &LogOptions::directory,
             "Directory holding the log segments and exporter cursors.")
        .Enum<FsyncPolicy>(
            "fsync", &LogOptions::fsync,
            {{"always", FsyncPolicy::kAlways},
             {"interval", FsyncPolicy::kInterval},
             {"never", FsyncPolicy::kNever}},
            "When appended data is made durable. `always`: before the client is "
            "acknowledged; `interval`: every fsync_interval; `never`: left to the OS.")
        .Duration("fsync_interval", &LogOptions::fsync_interval,
                  "Time between syncs under `fsync: interval`.", {1e6L, 60e9L})
        .Bytes("segment_bytes", &LogOptions::segment_bytes,
               "A segment file is closed and a new one started past this size.",
               {1024.0L * 1024, 4.0L * 1024 * 1024 * 1024})
        .Duration("segment_max_age", &LogOptions::segment_max_age,
                  "A non-empty segment is also closed once it is this old.", {1e9L, 7 * 86400e9L})
        .Bytes("max_pending_bytes", &LogOptions::max_pending_bytes,
               "Appends queued for the writer beyond this are refused (receivers answer 503).",
               {1024.0L * 1024, 4.0L * 1024 * 1024 * 1024});
    return s;
  }();
  return schema;
}

}  // namespace sluice::log
