#pragma once

// memcpy of the bytes a benchmark processes: the reference printed beside
// its figure.

#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

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

}  // namespace sluice::bench
