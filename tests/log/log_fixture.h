#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "log/log.h"
#include "support/temp_dir.h"

namespace sluice::log {

// A temp directory, a registry, and helpers to open the log on a chosen file
// system and clock and to read everything back.
class LogFixture : public ::testing::Test {
 protected:
  LogOptions Options(FsyncPolicy policy = FsyncPolicy::kInterval) {
    LogOptions o;
    o.directory = dir_.path();
    o.fsync = policy;
    // Retention passes are run explicitly by the tests.
    o.retention_interval = std::chrono::hours(1);
    return o;
  }

  std::unique_ptr<Log> OpenLog(const LogOptions& o, io::FileSystem& fs = io::FileSystem::Posix(),
                               Clock& clock = Clock::Real()) {
    auto log = Log::Open(o, fs, clock, registry_, &health_);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  static AppendRequest Batch(const std::string& payload, uint32_t items = 1) {
    AppendRequest r;
    r.payload = payload;
    r.item_count = items;
    r.tenant = "t";
    return r;
  }

  // The payloads from `from` to the end, of the batches of `pipelines` (all
  // without them); *end is set to where the reader stopped.
  static std::vector<std::string> ReadAll(Log& log, Position from,
                                          std::optional<PipelineSet> pipelines = std::nullopt,
                                          Position* end = nullptr) {
    LogReader reader(log, from);
    if (pipelines) reader.SetPipelines(*pipelines);
    std::vector<std::string> out;
    while (true) {
      auto b = reader.Next();
      if (!b.ok()) {
        EXPECT_EQ(b.status().code(), StatusCode::kEndOfStream) << b.status().ToString();
        break;
      }
      out.emplace_back(b->payload);
    }
    if (end != nullptr) *end = reader.position();
    return out;
  }

  uint64_t CounterValue(const std::string& name, std::vector<std::string> labels = {},
                        std::vector<std::string> names = {}) {
    return registry_.AddCounter(name, "", std::move(names)).With(labels).Value();
  }
  double GaugeValue(const std::string& name) { return registry_.AddGauge(name, "").Get().Value(); }

  testing::TempDir dir_;
  telemetry::Registry registry_;
  telemetry::Health health_;
};

}  // namespace sluice::log
