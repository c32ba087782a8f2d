#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "telemetry/metrics.h"

namespace sluice::testing {

// Polls `done` every `poll` until it holds or `limit` passes; returns
// done(). A `done` that costs its server work (a query, a flush) wants a
// longer poll.
template <class F>
bool WaitUntil(F done, std::chrono::milliseconds limit = std::chrono::seconds(30),
               std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(poll);
  }
  return done();
}

// The value of one series, written as in the exposition format
// (`name{label="v"}`), in the registry's /metrics text; 0 when absent.
inline uint64_t SeriesValue(const telemetry::Registry& registry, const std::string& series) {
  std::string text = registry.Render();
  std::string key = series + " ";
  size_t at = text.find(key);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + key.size()));
}

}  // namespace sluice::testing
