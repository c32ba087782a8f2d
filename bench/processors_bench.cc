// Processor throughput on OTLP spans, one thread: the filter alone, and the
// filter followed by an attributes processor with ten actions (the target
// is 1M spans/s on one core), beside memcpy of the same request bytes and
// the zero-copy walker that validates them on receipt.

#include <benchmark/benchmark.h>

#include "config/schema.h"
#include "memcpy_reference.h"
#include "processors/attributes/attributes_processor.h"
#include "processors/filter/filter_processor.h"
#include "support/otlp_builders.h"
#include "telemetry/metrics.h"
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

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::RunWithSluiceHeap(argc, argv);
}
