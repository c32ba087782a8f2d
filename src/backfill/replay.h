#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include "backfill/command.h"
#include "pipeline/component.h"

namespace sluice::backfill {

// `sluice replay`: asks the running sluice (its admin port, per the
// configuration or args.admin) to replay, and shows the job's progress
// until it ends; with args.offline, or when no sluice answers there, reads
// the log directly (RunBackfill from "log"), which only a stopped sluice
// allows. Exit codes as RunBackfill's.
int RunReplay(const Args& args, const pipeline::Catalog& catalog, std::ostream& out,
              std::ostream& err, const std::atomic<bool>& stop, const JobHook& hook);

// The admin API of replays in a running sluice, one job per exporter at a
// time, each on a thread of its own with a fed exporter of its own (the live
// exporter and its cursor are untouched) and a checkpoint under
// storage.directory/replay/:
//
//   POST /api/v1/replay/start?exporter=ID&start=T[&end=T][&restart=true]
//        202 {"state":"running"}; 409 when one runs for ID; 400 bad input
//   GET|POST /api/v1/replay/status?exporter=ID
//        200 {"state":"running"|"finished", "items":..., "bytes_sent":...,
//             "retried_items":...,
//             "failed_items":..., "bytes_read":..., "total_bytes":...,
//             and once finished "exit_code":N, "summary":"replay result=..."}
//   POST /api/v1/replay/cancel?exporter=ID   202: stops reading, saves the
//        checkpoint (the status then shows the summary)
//
// Thread-safety: Handle from any thread (the admin server's).
struct ReplayOptions {
  bool enabled = true;
};
pipeline::ModuleType ReplayModuleType();

}  // namespace sluice::backfill
