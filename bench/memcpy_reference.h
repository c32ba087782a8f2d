#pragma once

// memcpy of the bytes a benchmark processes: the reference printed beside
// its figure.

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "base/memory.h"

namespace sluice::bench {

inline void MemcpyReference(benchmark::State& state, const std::string& in) {
  std::string out(in.size(), '\0');
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), in.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}

// main() of a benchmark program, with the heap configured as sluice's main
// configures it (base/memory.h), so buffers freed between requests are
// reused rather than given back and faulted in again.
inline int RunWithSluiceHeap(int argc, char** argv) {
  ConfigureAllocator();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace sluice::bench
