#include "exporters/debug/debug_exporter.h"

#include <cstdio>

#include "base/logging.h"
#include "base/strings.h"
#include "exporters/common/delivery.h"
#include "pipeline/read_loop.h"
#include "wire/compression.h"
#include "wire/otlp/common.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/json.h"
#include "wire/otlp/logs.h"
#include "wire/otlp/metrics.h"
#include "wire/otlp/traces.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"

namespace sluice::exporters::debug {
namespace {

namespace of = wire::otlp::field;
namespace pf = wire::prom::field;

std::string Hex(std::string_view bytes) {
  std::string out;
  AppendHex(out, bytes);
  return out;
}

std::string Service(std::string_view resource) {
  std::string_view v;
  if (!wire::otlp::FindAttribute(resource, of::kResourceAttributes, "service.name", &v)) return "";
  return wire::otlp::AnyValueText(v);
}

void AppendAttributes(std::string* out, std::string_view message, uint32_t field) {
  std::string attrs;
  wire::otlp::AppendAttributesPlainJson(attrs, message, field);
  if (attrs != "{}") *out += " " + attrs;
}

// A remote write request: one line per series (normal) with its samples
// (detailed).
Status DescribeRemoteWrite(std::string_view request, Verbosity v, std::string* out) {
  wire::ProtoReader r(request);
  while (r.Next()) {
    if (r.field() != pf::kWriteTimeseries) continue;
    std::string labels = "{";
    std::string samples;
    uint64_t n = 0;
    wire::ProtoReader ts(r.bytes());
    while (ts.Next()) {
      if (ts.field() == pf::kSeriesLabels) {
        if (labels.size() > 1) labels += ", ";
        labels += std::string(wire::LastBytesField(ts.bytes(), pf::kLabelName)) + "=\"" +
                  std::string(wire::LastBytesField(ts.bytes(), pf::kLabelValue)) + "\"";
      } else if (ts.field() == pf::kSeriesSamples || ts.field() == pf::kSeriesHistograms) {
        ++n;
        if (v == Verbosity::kDetailed && ts.field() == pf::kSeriesSamples) {
          double value = 0;
          int64_t t = 0;
          wire::ProtoReader s(ts.bytes());
          while (s.Next()) {
            if (s.field() == pf::kSampleValue) value = s.as_double();
            if (s.field() == pf::kSampleTimestamp) t = s.as_int64();
          }
          char buf[64];
          std::snprintf(buf, sizeof buf, " %.17g@%lld", value, static_cast<long long>(t));
          samples += buf;
        }
      }
    }
    *out += "series " + labels + "} samples=" + std::to_string(n) + samples + "\n";
  }
  return r.ok() ? Status::Ok() : Status::InvalidArgument(r.error());
}

Status DescribeOtlpNormal(const log::LogReader::Batch& batch, std::string* out) {
  return wire::otlp::ForEachLeaf(
      batch.payload,
      [&](std::string_view resource, std::string_view, std::string_view leaf) -> Status {
        std::string service = Service(resource);
        switch (batch.header.signal) {
          case log::Signal::kTraces: {
            wire::otlp::SpanView s;
            SLUICE_RETURN_IF_ERROR(wire::otlp::ViewSpan(leaf, &s));
            *out += "span " + std::string(s.name) + " service=" + service +
                    " trace_id=" + Hex(s.trace_id) + " span_id=" + Hex(s.span_id) +
                    " kind=" + std::to_string(s.kind) +
                    " status=" + std::to_string(wire::LastVarintField(s.status, of::kStatusCode)) +
                    " duration_ns=" + std::to_string(s.end_time_unix_nano - s.start_time_unix_nano);
            AppendAttributes(out, leaf, of::kSpanAttributes);
            break;
          }
          case log::Signal::kLogs: {
            std::string body =
                wire::otlp::AnyValueText(wire::LastBytesField(leaf, of::kRecordBody));
            *out += "log service=" + service + " severity=" +
                    std::to_string(wire::LastVarintField(leaf, of::kRecordSeverityNumber)) +
                    " body=" + body;
            AppendAttributes(out, leaf, of::kRecordAttributes);
            break;
          }
          case log::Signal::kMetrics: {
            uint64_t points = 0;
            wire::ProtoReader m(leaf);
            while (m.Next()) {
              if (m.field() < of::kMetricGauge || m.field() > of::kMetricSummary ||
                  !m.Is(wire::WireType::kLengthDelimited)) {
                continue;
              }
              wire::ProtoReader d(m.bytes());
              while (d.Next()) points += d.field() == of::kDataPoints ? 1 : 0;
            }
            *out += "metric " + std::string(wire::LastBytesField(leaf, of::kMetricName)) +
                    " service=" + service + " points=" + std::to_string(points);
            break;
          }
        }
        out->push_back('\n');
        return Status::Ok();
      });
}

}  // namespace

std::string Describe(const log::LogReader::Batch& batch, Verbosity verbosity) {
  std::string out;
  const char* signal = batch.header.signal == log::Signal::kTraces    ? "traces"
                       : batch.header.signal == log::Signal::kMetrics ? "metrics"
                                                                      : "logs";
  const char* unit = batch.header.signal == log::Signal::kTraces    ? "spans"
                     : batch.header.signal == log::Signal::kMetrics ? "data points"
                                                                    : "log records";
  out += std::string(signal) + ": " + std::to_string(batch.header.item_count) + " " + unit;
  if (!batch.tenant.empty()) out += " tenant=" + std::string(batch.tenant);
  out += "\n";
  if (verbosity == Verbosity::kBasic) return out;

  std::string payload_storage;
  std::string_view payload = batch.payload;
  Status st = Status::Ok();
  switch (batch.header.encoding) {
    case log::Encoding::kPromRemoteWriteSnappy:
      st = wire::Decompress(wire::Compression::kSnappyBlock, batch.payload, 256ull << 20,
                            &payload_storage);
      payload = payload_storage;
      if (st.ok()) st = DescribeRemoteWrite(payload, verbosity, &out);
      break;
    case log::Encoding::kPromRemoteWriteProto:
      st = DescribeRemoteWrite(payload, verbosity, &out);
      break;
    case log::Encoding::kOtlpProto:
      if (verbosity == Verbosity::kNormal) {
        st = DescribeOtlpNormal(batch, &out);
        break;
      }
      switch (batch.header.signal) {
        case log::Signal::kTraces:
          st = wire::otlp::ForEachLeaf(payload,
                                       [&](std::string_view resource, std::string_view scope,
                                           std::string_view leaf) -> Status {
                                         wire::otlp::SpanView s;
                                         SLUICE_RETURN_IF_ERROR(wire::otlp::ViewSpan(leaf, &s));
                                         wire::otlp::AppendSpanJson(out, resource, scope, s);
                                         out.push_back('\n');
                                         return Status::Ok();
                                       });
          break;
        case log::Signal::kMetrics:
          st = wire::otlp::AppendMetricsRequestJson(payload, &out);
          out.push_back('\n');
          break;
        case log::Signal::kLogs:
          st = wire::otlp::AppendLogsRequestJson(payload, &out);
          out.push_back('\n');
          break;
      }
      break;
  }
  if (!st.ok()) out += "(the batch does not decode: " + st.message() + ")\n";
  return out;
}

bool Sampler::Take(int64_t now_unix_nanos) {
  int64_t second = now_unix_nanos / 1'000'000'000;
  if (second != second_) {
    second_ = second;
    count_ = 0;
  }
  ++count_;
  if (count_ <= initial_) return true;
  return thereafter_ > 0 && (count_ - initial_) % thereafter_ == 0;
}

namespace {

class DebugExporter final : public pipeline::Exporter {
 public:
  DebugExporter(const pipeline::ComponentSettings& settings, const DebugOptions& options,
                pipeline::Runtime& rt)
      : settings_(settings),
        options_(options),
        rt_(rt),
        sampler_(options.sampling_initial, options.sampling_thereafter) {}

  Status Start() override {
    pipeline::LogConsumer::Options o;
    o.name = settings_.id;
    for (const auto& p : settings_.pipelines) o.pipeline_ids.push_back(p.id);
    o.start_at = log::StartAt::kNewest;
    consumer_ = std::make_unique<pipeline::LogConsumer>(
        rt_, o, [this](const log::LogReader::Batch& b) { return Deliver(b); },
        [] { return Status::Ok(); });
    return consumer_->Start();
  }

  void Stop(pipeline::Deadline deadline) override {
    if (consumer_) consumer_->Stop(deadline);
  }

 private:
  Status Deliver(const log::LogReader::Batch& batch) {
    if (!sampler_.Take(rt_.clock.NowUnixNanos())) return Status::Ok();
    std::string text = Describe(batch, options_.verbosity);
    // One write per batch, so lines of concurrent writers do not interleave.
    std::string block;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      block += settings_.id + " " + text.substr(start, end - start) + "\n";
      start = end + 1;
    }
    std::fwrite(block.data(), 1, block.size(), stderr);
    std::fflush(stderr);
    return Status::Ok();
  }

  const pipeline::ComponentSettings settings_;
  const DebugOptions options_;
  pipeline::Runtime& rt_;
  Sampler sampler_;
  std::unique_ptr<pipeline::LogConsumer> consumer_;
};

}  // namespace

const config::Schema<DebugOptions>& DebugOptionsSchema() {
  static const config::Schema<DebugOptions> schema = [] {
    config::Schema<DebugOptions> s("debug");
    s.Enum("verbosity", &DebugOptions::verbosity,
           {{"basic", Verbosity::kBasic},
            {"normal", Verbosity::kNormal},
            {"detailed", Verbosity::kDetailed}},
           "basic: a line of counts per batch; normal: a line per span, log record, metric or "
           "series; detailed: the items as OTLP/JSON (series with their samples).")
        .Int("sampling_initial", &DebugOptions::sampling_initial,
             "Batches printed each second before sampling starts.", {0, 1 << 20})
        .Int("sampling_thereafter", &DebugOptions::sampling_thereafter,
             "After sampling_initial in a second, every this-many-th batch is printed.",
             {0, 1 << 20})
        .Bool("use_internal_logger", &DebugOptions::use_internal_logger,
              "Accepted; the output always goes to stderr, each line prefixed by the exporter "
              "id.");
    return s;
  }();
  return schema;
}

pipeline::ComponentType DebugExporterType() {
  return pipeline::MakeExporterType(
      "debug",
      "Writes what a pipeline forwards to stderr, as the OpenTelemetry Collector's debug "
      "exporter (it reads from the newest batch and keeps no backlog).",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, DebugOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const DebugOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        return std::unique_ptr<pipeline::Exporter>(new DebugExporter(s, o, rt));
      });
}

}  // namespace sluice::exporters::debug
