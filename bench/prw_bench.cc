// Series per second through the remote_write paths: the receiver's
// validation of a WriteRequest, and the exporter's pass-through splitting
// (with and without external labels) and OTLP metrics translation, each
// feeding per-shard builders as the exporter does. Reference: memcpy of the
// WriteRequest bytes.

#include <benchmark/benchmark.h>

#include <cstring>

#include "exporters/prometheusremotewrite/translate.h"
#include "memcpy_reference.h"
#include "support/otlp_builders.h"
#include "wire/prom/remote_write.h"

namespace {

using sluice::exporters::prw::SeriesSink;
using sluice::exporters::prw::TranslateOptions;
using sluice::exporters::prw::TranslateStats;
using sluice::exporters::prw::Translator;
using sluice::exporters::prw::WriteRequestBuilder;

class ShardSink : public SeriesSink {
 public:
  void Series(uint64_t hash, std::string_view ts, uint64_t) override {
    WriteRequestBuilder& b = shards_[hash % kShards];
    if (b.series() >= 2000) b.Clear();
    b.Add(ts);
  }

 private:
  static constexpr size_t kShards = 4;
  WriteRequestBuilder shards_[kShards];
};

// Prometheus sends mostly one sample per series.
const std::string& WriteRequestBytes() {
  static const std::string bytes =
      sluice::testing::MakeWriteRequest(2000, 1, 1).SerializeAsString();
  return bytes;
}

void BM_MemcpyWriteRequest(benchmark::State& state) {
  sluice::bench::MemcpyReference(state, WriteRequestBytes());
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(state.iterations() * 2000),
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MemcpyWriteRequest);

void BM_InspectWriteRequest(benchmark::State& state) {
  const std::string& in = WriteRequestBytes();
  uint64_t samples = 0;
  for (auto _ : state) {
    sluice::wire::prom::WriteInspection ins;
    auto st = sluice::wire::prom::InspectWriteRequest(in, &ins);
    benchmark::DoNotOptimize(st);
    samples += ins.items;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_InspectWriteRequest);

void Split(benchmark::State& state, TranslateOptions options) {
  const std::string& in = WriteRequestBytes();
  auto t = Translator::Create(std::move(options));
  ShardSink sink;
  TranslateStats stats;
  for (auto _ : state) {
    auto st = (*t)->SplitWriteRequest(in, sink, &stats);
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(stats.samples), benchmark::Counter::kIsRate);
}

void BM_SplitWriteRequest(benchmark::State& state) {
  Split(state, {});
}
BENCHMARK(BM_SplitWriteRequest);

void BM_SplitWriteRequestExternalLabels(benchmark::State& state) {
  TranslateOptions o;
  o.external_labels = {{"cluster", "eu-1"}, {"replica", "a"}};
  Split(state, o);
}
BENCHMARK(BM_SplitWriteRequestExternalLabels);

void BM_TranslateOtlpMetrics(benchmark::State& state) {
  auto req = sluice::testing::MakeMetricsRequest(1000, 1);
  req.mutable_resource_metrics(0)
      ->mutable_scope_metrics(0)
      ->mutable_metrics(2)
      ->mutable_histogram()
      ->set_aggregation_temporality(
          opentelemetry::proto::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  std::string in = req.SerializeAsString();
  auto t = Translator::Create({});
  ShardSink sink;
  TranslateStats stats;
  for (auto _ : state) {
    auto st = (*t)->TranslateOtlpMetrics(in, sink, &stats);
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(stats.samples), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TranslateOtlpMetrics);

}  // namespace

BENCHMARK_MAIN();
