#include "support/otlp_builders.h"

#include <google/protobuf/util/json_util.h>

#include <map>

#include "wire/compression.h"
#include "wire/otlp/common.h"

namespace sluice::testing {

std::string Hex(const std::string& bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string OtlpJsonToProtobufJson(std::string_view otlp_json) {
  std::string out;
  size_t at = 0;
  while (at < otlp_json.size()) {
    // Keys are found only outside strings: inside one, every quote is escaped.
    size_t next = std::string_view::npos;
    size_t value = 0;
    for (std::string_view key : {"\"traceId\":\"", "\"spanId\":\"", "\"parentSpanId\":\""}) {
      size_t k = otlp_json.find(key, at);
      if (k < next) {
        next = k;
        value = k + key.size();
      }
    }
    if (next == std::string_view::npos) break;
    size_t end = otlp_json.find('"', value);
    if (end == std::string_view::npos) break;
    out.append(otlp_json.substr(at, value - at));
    std::string bytes;
    for (size_t i = value; i + 1 < end; i += 2) {
      bytes += static_cast<char>(std::stoi(std::string(otlp_json.substr(i, 2)), nullptr, 16));
    }
    wire::otlp::AppendBase64(out, bytes);
    at = end;
  }
  out.append(otlp_json.substr(at));
  return out;
}

bool ParseOtlpJson(std::string_view otlp_json, google::protobuf::Message* out, std::string* error) {
  std::string json = OtlpJsonToProtobufJson(otlp_json);
  auto st = google::protobuf::util::JsonStringToMessage(json, out);
  if (!st.ok()) *error = st.ToString();
  return st.ok();
}

namespace {
std::string IdBytes(uint64_t a, uint64_t b, size_t n) {
  std::string id(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    uint64_t v = i < 8 ? a : b;
    id[i] = static_cast<char>(((v >> (8 * (i % 8))) & 0xFF) | (i == 0 ? 1 : 0));
  }
  return id;
}
}  // namespace

otlp_pb::collector::trace::v1::ExportTraceServiceRequest MakeTraceRequest(int resources,
                                                                          int spans_per_resource,
                                                                          uint64_t seed) {
  otlp_pb::collector::trace::v1::ExportTraceServiceRequest req;
  for (int r = 0; r < resources; ++r) {
    auto* rs = req.add_resource_spans();
    auto* attr = rs->mutable_resource()->add_attributes();
    attr->set_key("service.name");
    attr->mutable_value()->set_string_value("service-" + std::to_string(seed) + "-" +
                                            std::to_string(r));
    auto* ss = rs->add_scope_spans();
    ss->mutable_scope()->set_name("test-scope");
    ss->mutable_scope()->set_version("1.2.3");
    for (int s = 0; s < spans_per_resource; ++s) {
      uint64_t n = seed * 1'000'000 + static_cast<uint64_t>(r) * 1000 + static_cast<uint64_t>(s);
      auto* span = ss->add_spans();
      span->set_trace_id(IdBytes(n, ~n, 16));
      span->set_span_id(IdBytes(n * 7 + 1, 0, 8));
      span->set_name("op-" + std::to_string(n));
      span->set_kind(otlp_pb::trace::v1::Span::SPAN_KIND_SERVER);
      span->set_start_time_unix_nano(1'700'000'000'000'000'000ull + n);
      span->set_end_time_unix_nano(1'700'000'000'000'000'000ull + n + 1000);
      auto* a1 = span->add_attributes();
      a1->set_key("http.route");
      a1->mutable_value()->set_string_value("/items/" + std::to_string(n));
      auto* a2 = span->add_attributes();
      a2->set_key("retry.count");
      a2->mutable_value()->set_int_value(static_cast<int64_t>(n % 5));
      if (n % 3 == 0) {
        span->mutable_status()->set_code(otlp_pb::trace::v1::Status::STATUS_CODE_ERROR);
        span->mutable_status()->set_message("boom");
      }
    }
  }
  return req;
}

otlp_pb::collector::logs::v1::ExportLogsServiceRequest MakeLogsRequest(int n, uint64_t seed) {
  otlp_pb::collector::logs::v1::ExportLogsServiceRequest req;
  auto* rl = req.add_resource_logs();
  auto* attr = rl->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("logs-" + std::to_string(seed));
  auto* sl = rl->add_scope_logs();
  sl->mutable_scope()->set_name("test-logger");
  for (int i = 0; i < n; ++i) {
    uint64_t k = seed * 1000 + static_cast<uint64_t>(i);
    auto* rec = sl->add_log_records();
    rec->set_time_unix_nano(1'700'000'000'000'000'000ull + k);
    rec->set_severity_number(otlp_pb::logs::v1::SEVERITY_NUMBER_INFO);
    rec->set_severity_text("INFO");
    rec->mutable_body()->set_string_value("message " + std::to_string(k));
    auto* a = rec->add_attributes();
    a->set_key("line");
    a->mutable_value()->set_int_value(static_cast<int64_t>(k));
    rec->set_trace_id(IdBytes(k, ~k, 16));
    rec->set_span_id(IdBytes(k + 1, 0, 8));
  }
  return req;
}

otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest MakeMetricsRequest(int points,
                                                                                uint64_t seed) {
  otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  auto* attr = rm->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("metrics-" + std::to_string(seed));
  auto* sm = rm->add_scope_metrics();
  uint64_t t = 1'700'000'000'000'000'000ull + seed;
  auto* gauge = sm->add_metrics();
  gauge->set_name("queue_depth");
  for (int i = 0; i < points; ++i) {
    auto* p = gauge->mutable_gauge()->add_data_points();
    p->set_time_unix_nano(t + static_cast<uint64_t>(i));
    p->set_as_int(i);
    auto* a = p->add_attributes();
    a->set_key("queue");
    a->mutable_value()->set_string_value("q" + std::to_string(i));
  }
  auto* sum = sm->add_metrics();
  sum->set_name("requests");
  sum->mutable_sum()->set_is_monotonic(true);
  sum->mutable_sum()->set_aggregation_temporality(
      otlp_pb::metrics::v1::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* sp = sum->mutable_sum()->add_data_points();
  sp->set_time_unix_nano(t);
  sp->set_as_double(42.5);
  auto* hist = sm->add_metrics();
  hist->set_name("latency");
  auto* hp = hist->mutable_histogram()->add_data_points();
  hp->set_time_unix_nano(t);
  hp->set_count(10);
  for (double b : {0.1, 0.5, 1.0}) hp->add_explicit_bounds(b);
  for (uint64_t c : {4, 3, 2, 1}) hp->add_bucket_counts(c);
  return req;
}

otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest MakeCheckoutMetrics(int64_t unix_ms) {
  namespace metrics_pb = otlp_pb::metrics::v1;
  otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  auto* attr = rm->mutable_resource()->add_attributes();
  attr->set_key("service.name");
  attr->mutable_value()->set_string_value("checkout");
  auto* sm = rm->add_scope_metrics();
  const uint64_t t = static_cast<uint64_t>(unix_ms) * 1'000'000;
  auto* gauge = sm->add_metrics();
  gauge->set_name("queue.size");
  gauge->set_unit("By");
  auto* gp = gauge->mutable_gauge()->add_data_points();
  gp->set_time_unix_nano(t);
  gp->set_as_double(42.5);
  auto* sum = sm->add_metrics();
  sum->set_name("orders");
  sum->mutable_sum()->set_is_monotonic(true);
  sum->mutable_sum()->set_aggregation_temporality(metrics_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* sp = sum->mutable_sum()->add_data_points();
  sp->set_time_unix_nano(t);
  sp->set_as_int(7);
  auto* hist = sm->add_metrics();
  hist->set_name("latency");
  hist->set_unit("s");
  auto* h = hist->mutable_histogram();
  h->set_aggregation_temporality(metrics_pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* hp = h->add_data_points();
  hp->set_time_unix_nano(t);
  hp->set_count(6);
  hp->set_sum(3.0);
  hp->add_explicit_bounds(0.1);
  hp->add_explicit_bounds(1.0);
  hp->add_bucket_counts(1);
  hp->add_bucket_counts(2);
  hp->add_bucket_counts(3);
  return req;
}

prometheus::WriteRequest MakeWriteRequest(int series, int samples, uint64_t seed) {
  prometheus::WriteRequest req;
  for (int i = 0; i < series; ++i) {
    auto* ts = req.add_timeseries();
    auto add = [ts](const std::string& n, const std::string& v) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    };
    add("__name__", "http_requests_total");
    add("instance", "host-" + std::to_string(seed));
    add("job", "api");
    add("path", "/p/" + std::to_string(i));
    for (int s = 0; s < samples; ++s) {
      auto* sample = ts->add_samples();
      sample->set_value(static_cast<double>(i * 1000 + s));
      sample->set_timestamp(1'700'000'000'000 + static_cast<int64_t>(seed) * 1000 + s);
    }
  }
  return req;
}

prometheus::WriteRequest MakeWriteRequestAt(const std::vector<int64_t>& timestamps) {
  auto req = MakeWriteRequest(static_cast<int>(timestamps.size()), 1, 1);
  for (size_t i = 0; i < timestamps.size(); ++i) {
    req.mutable_timeseries(static_cast<int>(i))->mutable_samples(0)->set_timestamp(timestamps[i]);
  }
  return req;
}

HttpResult PostRemoteWrite(const std::string& host_port, const prometheus::WriteRequest& request) {
  return HttpRequest("POST", host_port, "/api/v1/write",
                     wire::Compress(wire::Compression::kSnappyBlock, request.SerializeAsString()),
                     {{"Content-Type", "application/x-protobuf"},
                      {"Content-Encoding", "snappy"},
                      {"X-Prometheus-Remote-Write-Version", "0.1.0"}});
}

::io::prometheus::write::v2::Request ToRemoteWriteV2(const prometheus::WriteRequest& v1) {
  ::io::prometheus::write::v2::Request out;
  std::map<std::string, uint32_t> index;
  auto ref = [&](const std::string& s) {
    auto [it, added] = index.emplace(s, static_cast<uint32_t>(out.symbols_size()));
    if (added) out.add_symbols(s);
    return it->second;
  };
  ref("");
  for (const auto& ts : v1.timeseries()) {
    auto* series = out.add_timeseries();
    for (const auto& l : ts.labels()) {
      series->add_labels_refs(ref(l.name()));
      series->add_labels_refs(ref(l.value()));
    }
    for (const auto& s : ts.samples()) {
      auto* sample = series->add_samples();
      sample->set_value(s.value());
      sample->set_timestamp(s.timestamp());
    }
    for (const auto& e : ts.exemplars()) {
      auto* exemplar = series->add_exemplars();
      for (const auto& l : e.labels()) {
        exemplar->add_labels_refs(ref(l.name()));
        exemplar->add_labels_refs(ref(l.value()));
      }
      exemplar->set_value(e.value());
      exemplar->set_timestamp(e.timestamp());
    }
    // The two Histogram messages number their fields alike.
    for (const auto& h : ts.histograms()) {
      series->add_histograms()->ParseFromString(h.SerializeAsString());
    }
  }
  return out;
}

}  // namespace sluice::testing
