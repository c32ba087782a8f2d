// Decoding throughput of the zero-copy OTLP trace walker, next to memcpy of
// the same bytes (the reference) and to the protobuf library's parser.

#include <benchmark/benchmark.h>

#include <cstring>

#include "memcpy_reference.h"
#include "support/otlp_builders.h"
#include "wire/otlp/traces.h"

namespace {

const std::string& Request() {
  // 100 spans per request, as OTLP SDK exporters batch by default.
  static const std::string bytes = sluice::testing::MakeTraceRequest(4, 25, 1).SerializeAsString();
  return bytes;
}

void BM_Memcpy(benchmark::State& state) {
  sluice::bench::MemcpyReference(state, Request());
}
BENCHMARK(BM_Memcpy);

void BM_WalkTraces(benchmark::State& state) {
  const std::string& in = Request();
  sluice::wire::otlp::TracesSummary summary;
  for (auto _ : state) {
    auto st = sluice::wire::otlp::WalkTraces(in, nullptr, &summary);
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["spans/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * summary.spans), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WalkTraces);

void BM_ProtobufParse(benchmark::State& state) {
  const std::string& in = Request();
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest req;
  for (auto _ : state) {
    benchmark::DoNotOptimize(req.ParseFromString(in));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_ProtobufParse);

}  // namespace

BENCHMARK_MAIN();
