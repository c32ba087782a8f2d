#pragma once

#include <string>
#include <vector>

#include "io/file_system.h"
#include "log/log.h"

namespace sluice::testing {

struct StoredBatch {
  log::BatchHeader header;
  std::string tenant;
  std::string payload;
};

// Every batch in the log under `directory`, in order (the service that wrote
// it must be stopped).
inline std::vector<StoredBatch> ReadStoredBatches(const std::string& directory) {
  telemetry::Registry registry;
  log::LogOptions o;
  o.directory = directory;
  auto log = log::Log::Open(o, io::FileSystem::Posix(), Clock::Real(), registry);
  std::vector<StoredBatch> out;
  if (!log.ok()) return out;
  log::LogReader reader(**log, (*log)->Begin());
  while (true) {
    auto b = reader.Next();
    if (!b.ok()) break;
    out.push_back({b->header, std::string(b->tenant), std::string(b->payload)});
  }
  return out;
}

}  // namespace sluice::testing
