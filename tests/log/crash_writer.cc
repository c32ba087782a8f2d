// A process for the crash test: appends from several threads to the log under
// `fsync: always`, printing "ack <run> <thread> <seq>" after each append
// completes, until it is killed.
//
// Usage: log_crash_writer <dir> <run> <threads>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log/log.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <dir> <run> <threads>\n", argv[0]);
    return 2;
  }
  sluice::log::LogOptions o;
  o.directory = argv[1];
  o.fsync = sluice::log::FsyncPolicy::kAlways;
  o.segment_bytes = 1 << 20;  // roll often, so crashes land around rolls too
  int run = std::atoi(argv[2]);
  int threads = std::atoi(argv[3]);
  sluice::telemetry::Registry registry;
  auto log =
      sluice::log::Log::Open(o, sluice::io::FileSystem::Posix(), sluice::Clock::Real(), registry);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", log.status().ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::mutex out;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(run * 131 + t));
      for (int seq = 0;; ++seq) {
        sluice::log::AppendRequest r;
        r.payload = std::to_string(run) + ":" + std::to_string(t) + ":" + std::to_string(seq) + ":";
        r.payload.append(rng() % 30000, static_cast<char>('a' + t));
        r.item_count = 1;
        auto res = (*log)->Append(std::move(r));
        if (!res.ok()) continue;  // not acknowledged: may or may not be in the log
        char line[64];
        int n = std::snprintf(line, sizeof line, "ack %d %d %d\n", run, t, seq);
        std::lock_guard<std::mutex> lock(out);
        if (::write(1, line, static_cast<size_t>(n)) != n) std::abort();
      }
    });
  }
  for (auto& w : workers) w.join();
}
