// The connectors' aggregation on one core: spanmetrics and servicegraph
// together over requests of 100 spans from 200 services × 20 operations
// (client/server pairs across services), beside memcpy of the same bytes
// and the zero-copy walker that validates them on receipt. Reading the log
// is not included: bench/log_throughput measures replay.

#include <benchmark/benchmark.h>

#include <random>

#include "connectors/servicegraph/servicegraph_connector.h"
#include "connectors/spanmetrics/spanmetrics_connector.h"
#include "memcpy_reference.h"
#include "wire/otlp/traces.h"
#include "wire/proto_writer.h"

namespace {

using sluice::wire::ProtoWriter;

constexpr int kServices = 200;
constexpr int kOperations = 20;
constexpr int kSpansPerRequest = 100;
constexpr int kRequests = 64;

void Attribute(ProtoWriter& w, uint32_t field, std::string_view k, std::string_view v) {
  size_t kv = w.BeginMessage(field);
  w.Bytes(1, k);
  size_t any = w.BeginMessage(2);
  w.Bytes(1, v);
  w.EndMessage(any);
  w.EndMessage(kv);
}

// Requests of 50 client/server pairs each: service i's operation j calls
// service (i + 1 + j) % 200, 2% of the calls failing.
const std::vector<std::string>& Requests() {
  static const std::vector<std::string> requests = [] {
    std::mt19937_64 rng(1);
    std::vector<std::string> out;
    for (int r = 0; r < kRequests; ++r) {
      std::string body;
      ProtoWriter w(&body);
      for (int p = 0; p < kSpansPerRequest / 2; ++p) {
        int client = static_cast<int>(rng() % kServices);
        int op = static_cast<int>(rng() % kOperations);
        int server = (client + 1 + op) % kServices;
        std::string trace(16, '\0'), cid(8, '\0'), sid(8, '\0');
        for (auto* id : {&trace, &cid, &sid}) {
          for (char& c : *id) c = static_cast<char>(rng());
          (*id)[0] |= 1;
        }
        bool error = rng() % 100 < 2;
        uint64_t start = 1'700'000'000'000'000'000ull + rng() % 1'000'000'000;
        uint64_t len = 1'000'000 + rng() % 50'000'000;
        for (int side = 0; side < 2; ++side) {
          size_t rs = w.BeginMessage(1);
          size_t res = w.BeginMessage(1);
          Attribute(w, 1, "service.name", "service-" + std::to_string(side ? server : client));
          w.EndMessage(res);
          size_t ss = w.BeginMessage(2);
          size_t s = w.BeginMessage(2);
          w.Bytes(1, trace);
          w.Bytes(2, side ? sid : cid);
          if (side) w.Bytes(4, cid);
          w.Bytes(5, "op-" + std::to_string(op));
          w.Varint(6, side ? 2 : 3);
          w.Fixed64(7, start);
          w.Fixed64(8, start + len);
          Attribute(w, 9, "http.route", "/api/op-" + std::to_string(op));
          if (error) {
            size_t st = w.BeginMessage(15);
            w.Varint(3, 2);
            w.EndMessage(st);
          }
          w.EndMessage(s);
          w.EndMessage(ss);
          w.EndMessage(rs);
        }
      }
      out.push_back(std::move(body));
    }
    return out;
  }();
  return requests;
}

void Report(benchmark::State& state) {
  size_t bytes = 0;
  for (const auto& r : Requests()) bytes += r.size();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["spans/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kRequests * kSpansPerRequest),
                         benchmark::Counter::kIsRate);
}

void BM_Memcpy(benchmark::State& state) {
  sluice::bench::MemcpyReference(state, Requests()[0]);
}
BENCHMARK(BM_Memcpy);

void BM_WalkTraces(benchmark::State& state) {
  sluice::wire::otlp::TracesSummary summary;
  for (auto _ : state) {
    for (const auto& r : Requests()) {
      benchmark::DoNotOptimize(sluice::wire::otlp::WalkTraces(r, nullptr, &summary));
    }
  }
  Report(state);
}
BENCHMARK(BM_WalkTraces);

void BM_SpanMetricsAndServiceGraph(benchmark::State& state) {
  sluice::connectors::spanmetrics::SpanMetricsOptions sm;
  sm.dimensions = {{"http.route", std::nullopt}};
  sluice::connectors::servicegraph::ServiceGraphOptions sg;
  sg.store.max_items = 100'000;
  sluice::connectors::spanmetrics::Aggregator metrics(sm);
  sluice::connectors::servicegraph::Graph graph(sg);
  int64_t now = 1;
  for (auto _ : state) {
    for (const auto& r : Requests()) {
      benchmark::DoNotOptimize(metrics.Add(r, now));
      benchmark::DoNotOptimize(graph.Add(r, now));
      graph.Tick(now);
    }
    ++now;
  }
  Report(state);
  state.counters["series"] = static_cast<double>(metrics.series().size());
  state.counters["edges"] = static_cast<double>(graph.edges().size());
}
BENCHMARK(BM_SpanMetricsAndServiceGraph);

void BM_SpanMetrics(benchmark::State& state) {
  sluice::connectors::spanmetrics::SpanMetricsOptions sm;
  sm.dimensions = {{"http.route", std::nullopt}};
  sluice::connectors::spanmetrics::Aggregator metrics(sm);
  int64_t now = 1;
  for (auto _ : state) {
    for (const auto& r : Requests()) benchmark::DoNotOptimize(metrics.Add(r, now));
    ++now;
  }
  Report(state);
}
BENCHMARK(BM_SpanMetrics);

void BM_ServiceGraph(benchmark::State& state) {
  sluice::connectors::servicegraph::ServiceGraphOptions sg;
  sg.store.max_items = 100'000;
  sluice::connectors::servicegraph::Graph graph(sg);
  int64_t now = 1;
  for (auto _ : state) {
    for (const auto& r : Requests()) {
      benchmark::DoNotOptimize(graph.Add(r, now));
      graph.Tick(now);
    }
    ++now;
  }
  Report(state);
}
BENCHMARK(BM_ServiceGraph);

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::RunWithSluiceHeap(argc, argv);
}
