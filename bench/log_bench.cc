// Append throughput of the log under each fsync policy, next to plain
// sequential write() of the same bytes to the same directory (the reference).
// The directory is $SLUICE_BENCH_DIR or the system temp directory.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/crc32c.h"
#include "log/log.h"
#include "memcpy_reference.h"

namespace {

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("SLUICE_BENCH_DIR");
  auto dir = std::filesystem::path(base ? base : std::filesystem::temp_directory_path().c_str()) /
             ("sluice-bench-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void BM_RawWrite(benchmark::State& state) {
  std::string dir = BenchDir("raw");
  std::string block(static_cast<size_t>(state.range(0)), 'x');
  int fd = ::open((dir + "/raw").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  for (auto _ : state) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      state.SkipWithError("write failed");
      break;
    }
  }
  ::fdatasync(fd);
  ::close(fd);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block.size()));
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RawWrite)->Arg(1024)->Arg(64 * 1024)->UseRealTime();

// The checksum every append computes on the appending thread, beside memcpy
// of the same bytes (the reference).
void BM_Crc32c(benchmark::State& state) {
  std::string data(static_cast<size_t>(state.range(0)), 'c');
  for (auto _ : state) benchmark::DoNotOptimize(sluice::Crc32c(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Crc32c)->Arg(1024)->Arg(64 * 1024);

void BM_Memcpy(benchmark::State& state) {
  sluice::bench::MemcpyReference(state, std::string(static_cast<size_t>(state.range(0)), 'c'));
}
BENCHMARK(BM_Memcpy)->Arg(1024)->Arg(64 * 1024);

void BM_LogAppend(benchmark::State& state) {
  std::string dir = BenchDir("log");
  sluice::log::LogOptions o;
  o.directory = dir;
  o.fsync = static_cast<sluice::log::FsyncPolicy>(state.range(1));
  sluice::telemetry::Registry registry;
  auto log =
      sluice::log::Log::Open(o, sluice::io::FileSystem::Posix(), sluice::Clock::Real(), registry);
  if (!log.ok()) {
    state.SkipWithError(log.status().ToString().c_str());
    return;
  }
  std::string payload(static_cast<size_t>(state.range(0)), 'p');
  for (auto _ : state) {
    sluice::log::AppendRequest r;
    r.payload = payload;
    r.item_count = 1;
    auto res = (*log)->Append(std::move(r));
    if (!res.ok()) {
      state.SkipWithError(res.status().ToString().c_str());
      break;
    }
  }
  (*log)->Close().IgnoreError();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
  std::filesystem::remove_all(dir);
}
// Args: batch bytes, policy (0 always, 1 interval, 2 never).
BENCHMARK(BM_LogAppend)
    ->Args({1024, 1})
    ->Args({64 * 1024, 1})
    ->Args({1024, 2})
    ->Args({64 * 1024, 2})
    ->Args({64 * 1024, 0})
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
