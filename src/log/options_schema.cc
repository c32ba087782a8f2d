#include "log/options_schema.h"

namespace sluice::log {

const config::Schema<LogOptions>& LogOptionsSchema() {
  static const config::Schema<LogOptions> schema = [] {
    config::Schema<RetentionOptions> retention("storage.retention");
    retention
        .Duration("max_age", &RetentionOptions::max_age,
                  "Segments whose newest batch is older than this are deleted (once every "
                  "exporter has read them, unless when_full is drop_oldest).",
                  {60e9L, 3650 * 86400e9L})
        .Bytes("max_bytes", &RetentionOptions::max_bytes,
               "Most bytes the log may hold; past it the oldest segments are deleted, or, "
               "while an exporter still needs them, when_full decides.",
               {16.0L * 1024 * 1024, 1e18L});
    config::Schema<StateCompactionOptions> compaction("storage.state_compaction");
    compaction
        .Bytes("threshold_bytes", &StateCompactionOptions::threshold_bytes,
               "The state file is rewritten with only live entries once it grows past this "
               "(and past twice its size after the last rewrite).",
               {4096.0L, 16.0L * 1024 * 1024 * 1024})
        .Duration("cooldown", &StateCompactionOptions::cooldown,
                  "Least time between two rewrites of the state file.", {0, 86400e9L});
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
        .Bool("direct_io", &LogOptions::direct_io,
              "Write segments around the page cache (O_DIRECT), which runs at the disk's speed "
              "instead of the page cache's; falls back to buffered writes where unsupported.")
        .Duration("segment_max_age", &LogOptions::segment_max_age,
                  "A non-empty segment is also closed once it is this old.", {1e9L, 7 * 86400e9L})
        .Bytes("max_pending_bytes", &LogOptions::max_pending_bytes,
               "Appends queued for the writer beyond this are refused (receivers answer 503).",
               {1024.0L * 1024, 4.0L * 1024 * 1024 * 1024})
        .Object("retention", &LogOptions::retention, retention, "")
        .Enum<WhenFull>("when_full", &LogOptions::when_full,
                        {{"reject", WhenFull::kReject}, {"drop_oldest", WhenFull::kDropOldest}},
                        "At retention.max_bytes with the oldest data still unread: `reject` new "
                        "data (receivers answer 503 with Retry-After) or `drop_oldest` "
                        "segments, counting what each exporter lost.")
        .Object("state_compaction", &LogOptions::state_compaction, compaction, "")
        .Check([](const LogOptions& o) -> std::string {
          if (o.retention.max_bytes < 2 * o.segment_bytes) {
            return "retention.max_bytes must be at least twice segment_bytes, so the log can "
                   "hold a closed segment beside the one being written";
          }
          return "";
        });
    return s;
  }();
  return schema;
}

}  // namespace sluice::log
