#include "exporters/prometheusremotewrite/remote_write_exporter.h"

#include "wire/compression.h"

namespace sluice::exporters::prw {
namespace {

constexpr const char* kRoute = "remote_write";

const config::Schema<RemoteWriteOptions::ResourceToTelemetry>& ResourceToTelemetrySchema() {
  static const config::Schema<RemoteWriteOptions::ResourceToTelemetry> schema = [] {
    config::Schema<RemoteWriteOptions::ResourceToTelemetry> s(
        "prometheusremotewrite.resource_to_telemetry_conversion");
    s.Bool("enabled", &RemoteWriteOptions::ResourceToTelemetry::enabled,
           "Every resource attribute becomes a label of every series of that resource (over a "
           "point attribute with the same key), besides job and instance.");
    return s;
  }();
  return schema;
}

TranslateOptions TranslationOf(const RemoteWriteOptions& o) {
  TranslateOptions t;
  t.add_metric_suffixes = o.add_metric_suffixes;
  t.send_target_info = o.send_target_info;
  t.add_scope_labels = o.add_scope_labels;
  t.resource_to_telemetry = o.resource_to_telemetry_conversion.enabled;
  for (const auto& [k, v] : o.external_labels) t.external_labels.push_back({k, v});
  return t;
}

}  // namespace

const config::Schema<RemoteWriteOptions>& RemoteWriteOptionsSchema() {
  static const config::Schema<RemoteWriteOptions> schema = [] {
    config::Schema<RemoteWriteOptions> s("prometheusremotewrite");
    s.String("endpoint", &RemoteWriteOptions::endpoint,
             "remote write URL, e.g. http://prometheus:9090/api/v1/write.")
        .Required()
        .StringMap("headers", &RemoteWriteOptions::headers, "Headers added to every request.")
        .String("tenant_header", &RemoteWriteOptions::tenant_header, kTenantHeaderHelp)
        .Object("tls", &RemoteWriteOptions::tls, TlsClientOptionsSchema(),
                "Checks of the server's certificate for an https:// endpoint.")
        .StringMap("external_labels", &RemoteWriteOptions::external_labels,
                   "Labels added to every series that does not have them already.")
        .Duration("timeout", &RemoteWriteOptions::timeout,
                  "Limit on one attempt: connect, send and the answer.", {1e6L, 600e9L})
        .Int("max_series_per_request", &RemoteWriteOptions::max_series_per_request,
             "Series in one WriteRequest at most.", {1, 100000})
        .Bool("add_metric_suffixes", &RemoteWriteOptions::add_metric_suffixes,
              "Unit and _total suffixes on translated OTLP metric names.")
        .Bool("send_target_info", &RemoteWriteOptions::send_target_info,
              "A target_info series per OTLP resource with its other attributes.")
        .Bool("add_scope_labels", &RemoteWriteOptions::add_scope_labels,
              "otel_scope_name / otel_scope_version labels on translated series.")
        .Object("resource_to_telemetry_conversion",
                &RemoteWriteOptions::resource_to_telemetry_conversion, ResourceToTelemetrySchema(),
                "")
        .Object("retry_on_failure", &RemoteWriteOptions::retry_on_failure, RetryOptionsSchema(), "")
        .Object("sending_queue", &RemoteWriteOptions::sending_queue, QueueOptionsSchema(),
                "num_consumers is the number of shards: series are spread over them by label "
                "hash, and each shard sends its requests one at a time, in order.")
        .Enum("start_at", &RemoteWriteOptions::start_at, StartAtChoices(), kStartAtHelp)
        .Object("dead_letter", &RemoteWriteOptions::dead_letter, DeadLetterOptionsSchema(), "")
        .Check([](const RemoteWriteOptions& o) -> std::string {
          std::string bad = net::CheckClientConfig(o.endpoint, o.tls);
          if (!bad.empty()) return bad;
          Result<std::unique_ptr<Translator>> t = Translator::Create(TranslationOf(o));
          if (!t.ok()) return "external_labels: " + t.status().message();
          return "";
        });
    return s;
  }();
  return schema;
}

RemoteWriteEncoder::RemoteWriteEncoder(std::unique_ptr<Translator> translator, size_t shards,
                                       size_t max_series, RemoteWriteCounters counters,
                                       std::string exporter_id)
    : reader_(std::move(translator), counters, std::move(exporter_id)),
      max_series_(max_series),
      shards_(shards) {}

void RemoteWriteEncoder::EmitShard(size_t i) {
  Shard& s = shards_[i];
  if (s.builder.series() == 0) return;
  pipeline::OutboundRequest out;
  out.signal = log::Signal::kMetrics;
  out.route = kRoute;
  out.body = s.builder.Take();
  out.items = s.samples;
  out.shard = static_cast<int>(i);
  out.first_record = s.first_record;
  s.samples = 0;
  (*emit_)(std::move(out));
}

void RemoteWriteEncoder::Series(uint64_t label_hash, std::string_view timeseries,
                                uint64_t samples) {
  size_t i = static_cast<size_t>(label_hash % shards_.size());
  Shard& s = shards_[i];
  if (s.builder.series() == 0) s.first_record = record_;
  s.builder.Add(timeseries);
  s.samples += samples;
  if (s.builder.series() >= max_series_ || s.builder.bytes() >= kMaxRequestBytes) EmitShard(i);
}

void RemoteWriteEncoder::Add(const log::LogReader::Batch& batch, uint64_t record,
                             const EmitFn& emit) {
  emit_ = &emit;
  record_ = record;
  reader_.Read(batch, *this);
  emit_ = nullptr;
}

void RemoteWriteEncoder::Flush(const EmitFn& emit) {
  emit_ = &emit;
  for (size_t i = 0; i < shards_.size(); ++i) EmitShard(i);
  emit_ = nullptr;
}

std::optional<uint64_t> RemoteWriteEncoder::OldestHeld() const {
  std::optional<uint64_t> oldest;
  for (const auto& s : shards_) {
    if (s.builder.series() > 0 && (!oldest || s.first_record < *oldest)) oldest = s.first_record;
  }
  return oldest;
}

RemoteWriteSender::RemoteWriteSender(const RemoteWriteOptions& options) : options_(options) {}

pipeline::SendResult RemoteWriteSender::Send(const pipeline::OutboundRequest& request) {
  if (!client_) {
    auto c = net::HttpClient::ForUrl(options_.endpoint, options_.timeout, options_.headers, &path_,
                                     options_.tls);
    // The configuration was checked at load; a TLS file gone since may come back.
    if (!c.ok()) return pipeline::SendResult::Retryable(c.status().message());
    client_ = std::move(c).value();
  }
  std::string_view body = wire::SnappyCompressInto(request.body, &compressed_);
  net::Headers headers = {{"Content-Type", "application/x-protobuf"},
                          {"Content-Encoding", "snappy"},
                          {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
  AddTenantHeader(options_.tenant_header, options_.headers, request.tenant, &headers);
  return ClassifyHttp(client_->Post(path_, body, headers), "remote write destination");
}

pipeline::ComponentType RemoteWriteExporterType() {
  pipeline::ComponentType t = pipeline::MakeExporterType(
      "prometheusremotewrite",
      "Sends metrics with Prometheus remote write 1.0, translating OTLP metrics.",
      {log::Signal::kMetrics}, RemoteWriteOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const RemoteWriteOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<Translator> probe,
                                Translator::Create(TranslationOf(o)));
        (void)probe;
        auto& dropped = DroppedPointsCounter(rt.metrics, s.id);
        return std::unique_ptr<pipeline::Exporter>(new RequestExporter(
            s, rt, o.start_at, o.retry_on_failure, o.sending_queue, o.dead_letter,
            [o, &dropped, id = s.id](telemetry::Counter& unsupported) {
              return std::make_unique<RemoteWriteEncoder>(
                  std::move(*Translator::Create(TranslationOf(o))),
                  static_cast<size_t>(o.sending_queue.num_consumers),
                  static_cast<size_t>(o.max_series_per_request),
                  RemoteWriteCounters{&unsupported, &dropped}, id);
            },
            [o] { return std::make_unique<RemoteWriteSender>(o); }));
      });
  return Feedable(pipeline::WithSender<RemoteWriteOptions>(
      std::move(t), [](const RemoteWriteOptions& o) -> std::unique_ptr<pipeline::Sender> {
        return std::make_unique<RemoteWriteSender>(o);
      }));
}

}  // namespace sluice::exporters::prw
