// Processor throughput, one thread.
//  - OTLP spans: the filter alone, and the filter followed by an attributes
//    processor with ten actions (the target is 1M spans/s on one core),
//    beside memcpy of the same request bytes and the zero-copy walker that
//    validates them on receipt.
//  - Remote write: cardinality_limit holding 100k active series (the target
//    is 3M samples/s on one core), on snappy requests of 500 series as the
//    relay receives them, beside snappy decompression of the same requests
//    (which the receiver does anyway) and memcpy.

#include <benchmark/benchmark.h>

#include "config/schema.h"
#include "memcpy_reference.h"
#include "processors/attributes/attributes_processor.h"
#include "processors/cardinality/cardinality_limit_processor.h"
#include "processors/filter/filter_processor.h"
#include "support/otlp_builders.h"
#include "telemetry/metrics.h"
#include "wire/compression.h"
#include "wire/otlp/traces.h"

namespace {

namespace pb = sluice::testing::otlp_pb;
using sluice::pipeline::Processor;

constexpr int kSpans = 100;  // per request, as OTLP SDK exporters batch by default

const std::string& Request() {
  static const std::string bytes = [] {
    auto req = sluice::testing::MakeTraceRequest(4, kSpans / 4, 1);
    for (auto& rs : *req.mutable_resource_spans()) {
      for (auto& ss : *rs.mutable_scope_spans()) {
        for (auto& span : *ss.mutable_spans()) {
          auto add = [&](const char* k, const std::string& v) {
            auto* kv = span.add_attributes();
            kv->set_key(k);
            kv->mutable_value()->set_string_value(v);
          };
          add("http.request.method", "GET");
          add("http.response.status_code", "200");
          add("url.full", "https://shop.example.com/api/v1/items?id=" + span.name());
          add("user.email", "ann@example.com");
          add("internal.debug", "x");
          add("net.peer.name", "cart.svc");
        }
      }
    }
    return req.SerializeAsString();
  }();
  return bytes;
}

template <class Options>
Options Parse(const sluice::config::Schema<Options>& schema, const char* yaml) {
  sluice::config::Context ctx("bench.yaml");
  auto node = sluice::config::LoadString(yaml, ctx);
  Options o;
  schema.Parse(*node, &o, ctx);
  if (!ctx.ok()) std::abort();
  return o;
}

const char* kFilter = R"(
traces:
  span:
    - 'attributes["http.route"] == "/healthz"'
    - 'IsMatch(name, "^GET /ping")'
)";

const char* kTenActions = R"(
actions:
  - {key: team, action: insert, value: payments}
  - {key: deployment.environment, action: upsert, value: prod}
  - {key: http.response.status_code, action: convert, converted_type: int}
  - {key: user.email, action: hash}
  - {key: password, action: delete}
  - {pattern: ^internal\., action: delete}
  - {key: url.full, pattern: '^(?P<url_scheme>[a-z]+)://(?P<server_address>[^/]+)', action: extract}
  - {key: peer.service, action: insert, from_attribute: net.peer.name}
  - {key: http.request.method, action: update, value: get}
  - {key: retry.count, action: convert, converted_type: string}
)";

void Report(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * Request().size()));
  state.counters["spans/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kSpans),
                                                 benchmark::Counter::kIsRate);
}

void BM_Memcpy(benchmark::State& state) {
  sluice::bench::MemcpyReference(state, Request());
}
BENCHMARK(BM_Memcpy);

void BM_WalkTraces(benchmark::State& state) {
  sluice::wire::otlp::TracesSummary summary;
  for (auto _ : state) {
    benchmark::DoNotOptimize(sluice::wire::otlp::WalkTraces(Request(), nullptr, &summary));
  }
  Report(state);
}
BENCHMARK(BM_WalkTraces);

void BM_FilterKeepsAll(benchmark::State& state) {
  sluice::telemetry::Registry registry;
  sluice::processors::filter::FilterProcessor filter(
      "filter", Parse(sluice::processors::filter::FilterOptionsSchema(), kFilter), registry);
  for (auto _ : state) {
    Processor::Output out;
    auto st = filter.Process(
        {sluice::log::Signal::kTraces, sluice::log::Encoding::kOtlpProto, Request(), kSpans}, &out);
    benchmark::DoNotOptimize(st);
  }
  Report(state);
}
BENCHMARK(BM_FilterKeepsAll);

void BM_FilterThenTenAttributeActions(benchmark::State& state) {
  sluice::telemetry::Registry registry;
  sluice::processors::filter::FilterProcessor filter(
      "filter", Parse(sluice::processors::filter::FilterOptionsSchema(), kFilter), registry);
  sluice::processors::attributes::AttributesProcessor attrs(
      "attributes", Parse(sluice::processors::attributes::AttributesOptionsSchema(), kTenActions),
      registry);
  for (auto _ : state) {
    Processor::Output f;
    auto st = filter.Process(
        {sluice::log::Signal::kTraces, sluice::log::Encoding::kOtlpProto, Request(), kSpans}, &f);
    std::string_view in = f.changed ? std::string_view(f.payload) : std::string_view(Request());
    Processor::Output a;
    st = attrs.Process(
        {sluice::log::Signal::kTraces, sluice::log::Encoding::kOtlpProto, in, kSpans}, &a);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(a.payload.data());
  }
  Report(state);
}
BENCHMARK(BM_FilterThenTenAttributeActions);

// 100k series: 10 metrics of 10k series each, six labels, one sample per
// series per request, in 200 snappy requests of 500 series.
constexpr int kSeriesPerRequest = 500;
constexpr int kRequests = 200;

const std::vector<std::string>& WriteRequests() {
  static const std::vector<std::string> requests = [] {
    std::vector<std::string> out;
    std::string scratch;
    for (int r = 0; r < kRequests; ++r) {
      prometheus::WriteRequest req;
      for (int i = 0; i < kSeriesPerRequest; ++i) {
        int n = r * kSeriesPerRequest + i;
        auto* ts = req.add_timeseries();
        auto label = [&](const char* name, const std::string& value) {
          auto* l = ts->add_labels();
          l->set_name(name);
          l->set_value(value);
        };
        label("__name__", "http_requests_total_" + std::to_string(n % 10));
        label("code", n % 7 == 0 ? "500" : "200");
        label("handler", "/api/v1/items/" + std::to_string(n / 10));
        label("instance", "10.1." + std::to_string(n % 250) + ".7:9100");
        label("job", "api");
        label("method", "GET");
        auto* s = ts->add_samples();
        s->set_value(n);
        s->set_timestamp(1'700'000'000'000);
      }
      out.emplace_back(sluice::wire::SnappyCompressInto(req.SerializeAsString(), &scratch));
    }
    return out;
  }();
  return requests;
}

void ReportSamples(benchmark::State& state, uint64_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["samples/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kSeriesPerRequest), benchmark::Counter::kIsRate);
}

void BM_RemoteWriteSnappyDecompress(benchmark::State& state) {
  std::string scratch;
  uint64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& req = WriteRequests()[i++ % kRequests];
    std::string_view plain;
    benchmark::DoNotOptimize(sluice::wire::SnappyDecompressInto(req, 64 << 20, &scratch, &plain));
    bytes += req.size();
  }
  ReportSamples(state, bytes);
}
BENCHMARK(BM_RemoteWriteSnappyDecompress);

void BM_RemoteWriteMemcpy(benchmark::State& state) {
  sluice::bench::MemcpyReference(state, WriteRequests()[0]);
}
BENCHMARK(BM_RemoteWriteMemcpy);

// state.range(0): max_series per metric. 10000 holds all 100k series
// active and admits every request unchanged; 5000 folds half of every
// request into overflow series.
void BM_CardinalityLimit(benchmark::State& state) {
  sluice::telemetry::Registry registry;
  std::string yaml = "max_series: " + std::to_string(state.range(0)) + "\nwindow: 1h\n";
  sluice::processors::cardinality::CardinalityLimitProcessor limit(
      "cardinality_limit",
      Parse(sluice::processors::cardinality::CardinalityLimitOptionsSchema(), yaml.c_str()),
      registry, sluice::Clock::Real());
  auto run = [&](const std::string& req) {
    Processor::Output out;
    auto st = limit.Process({sluice::log::Signal::kMetrics,
                             sluice::log::Encoding::kPromRemoteWriteSnappy, req, kSeriesPerRequest},
                            &out);
    benchmark::DoNotOptimize(st);
    benchmark::DoNotOptimize(out.payload.data());
  };
  for (const std::string& req : WriteRequests()) run(req);  // the series become active
  uint64_t bytes = 0;
  size_t i = 0;
  for (auto _ : state) {
    const std::string& req = WriteRequests()[i++ % kRequests];
    run(req);
    bytes += req.size();
  }
  state.counters["active_series"] = static_cast<double>(limit.active_series());
  ReportSamples(state, bytes);
}
BENCHMARK(BM_CardinalityLimit)->Arg(10000)->Arg(5000);

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::RunWithSluiceHeap(argc, argv);
}
