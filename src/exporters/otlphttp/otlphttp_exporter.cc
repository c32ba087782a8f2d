#include "exporters/otlphttp/otlphttp_exporter.h"

#include "base/logging.h"
#include "exporters/common/http_client.h"
#include "wire/proto_reader.h"

namespace sluice::exporters::otlphttp {
namespace {

size_t SignalIndex(log::Signal s) {
  switch (s) {
    case log::Signal::kTraces:
      return 0;
    case log::Signal::kMetrics:
      return 1;
    case log::Signal::kLogs:
      return 2;
  }
  return 0;
}

// Export*ServiceResponse: partial_success = 1 { rejected_* = 1, error_message = 2 }
// (the same shape for the three signals).
void ReadPartialSuccess(std::string_view body, uint64_t* rejected, std::string* message) {
  wire::ProtoReader r(body);
  while (r.Next()) {
    if (r.field() != 1 || !r.Is(wire::WireType::kLengthDelimited)) continue;
    wire::ProtoReader p(r.bytes());
    while (p.Next()) {
      if (p.field() == 1 && p.Is(wire::WireType::kVarint)) {
        *rejected = p.varint();
      } else if (p.field() == 2 && p.Is(wire::WireType::kLengthDelimited)) {
        *message = std::string(p.bytes());
      }
    }
  }
}

const char* EncodingName(wire::Compression c) {
  switch (c) {
    case wire::Compression::kGzip:
      return "gzip";
    case wire::Compression::kZstd:
      return "zstd";
    case wire::Compression::kSnappyBlock:
      return "snappy";
    case wire::Compression::kNone:
      return "";
  }
  return "";
}

class OtlpHttpExporter final : public pipeline::Exporter {
 public:
  OtlpHttpExporter(const pipeline::ComponentSettings& settings, const OtlpHttpOptions& options,
                   pipeline::Runtime& rt)
      : settings_(settings), options_(options), rt_(rt) {}

  Status Start() override {
    std::unique_ptr<DeadLetterQueue> dlq;
    if (options_.dead_letter.max_bytes > 0) {
      SLUICE_ASSIGN_OR_RETURN(
          dlq, DeadLetterQueue::Open(
                   rt_.log.fs(), DeadLetterQueue::DirectoryFor(rt_.log.directory(), settings_.id),
                   settings_.id, options_.dead_letter.max_bytes, &rt_.metrics));
    }
    DeliveryLoop::Options o;
    o.name = settings_.id;
    for (const auto& p : settings_.pipelines) o.pipeline_ids.push_back(p.id);
    o.retry = options_.retry_on_failure;
    o.queue = options_.sending_queue;
    auto& unsupported = rt_.metrics
                            .AddCounter("sluice_exporter_unsupported_items_total",
                                        "Items skipped because the exporter cannot send their "
                                        "encoding.",
                                        {"exporter"})
                            .With({settings_.id});
    loop_ = std::make_unique<DeliveryLoop>(
        rt_, o, std::make_unique<OtlpConcatEncoder>(options_.max_request_bytes, unsupported),
        [this] { return std::make_unique<OtlpHttpSender>(options_); }, std::move(dlq));
    return loop_->Start();
  }

  void Stop(pipeline::Deadline deadline) override {
    if (loop_) loop_->Stop(deadline);
  }

 private:
  pipeline::ComponentSettings settings_;
  const OtlpHttpOptions options_;
  pipeline::Runtime& rt_;
  std::unique_ptr<DeliveryLoop> loop_;
};

}  // namespace

const config::Schema<OtlpHttpOptions>& OtlpHttpOptionsSchema() {
  static const config::Schema<OtlpHttpOptions> schema = [] {
    config::Schema<OtlpHttpOptions> s("otlphttp");
    s.String("endpoint", &OtlpHttpOptions::endpoint,
             "Base URL (http://host:port[/prefix]); each signal goes to <endpoint>/v1/<signal>.")
        .String("traces_endpoint", &OtlpHttpOptions::traces_endpoint,
                "Full URL for traces, overriding endpoint.")
        .String("metrics_endpoint", &OtlpHttpOptions::metrics_endpoint,
                "Full URL for metrics, overriding endpoint.")
        .String("logs_endpoint", &OtlpHttpOptions::logs_endpoint,
                "Full URL for logs, overriding endpoint.")
        .Enum<wire::Compression>("compression", &OtlpHttpOptions::compression,
                                 {{"gzip", wire::Compression::kGzip},
                                  {"zstd", wire::Compression::kZstd},
                                  {"none", wire::Compression::kNone}},
                                 "Content-Encoding of request bodies.")
        .StringMap("headers", &OtlpHttpOptions::headers,
                   "Headers added to every request (e.g. Authorization).")
        .Duration("timeout", &OtlpHttpOptions::timeout,
                  "Limit on one attempt: connect, send and the answer.", {1e6L, 600e9L})
        .Bytes("max_request_bytes", &OtlpHttpOptions::max_request_bytes,
               "Batches are joined into requests up to this size (a larger batch goes alone).",
               {1024, 64.0L * 1024 * 1024})
        .Object("retry_on_failure", &OtlpHttpOptions::retry_on_failure, RetryOptionsSchema(), "")
        .Object("sending_queue", &OtlpHttpOptions::sending_queue, QueueOptionsSchema(), "")
        .Object("dead_letter", &OtlpHttpOptions::dead_letter, DeadLetterOptionsSchema(), "")
        .Check([](const OtlpHttpOptions& o) -> std::string {
          for (log::Signal sig :
               {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}) {
            std::string url = SignalUrl(o, sig);
            if (url.empty()) {
              return "endpoint (or " + std::string(log::SignalName(sig)) + "_endpoint) is required";
            }
            Result<Endpoint> e = Endpoint::Parse(url);
            if (!e.ok()) return e.status().message();
          }
          return "";
        });
    return s;
  }();
  return schema;
}

std::string SignalUrl(const OtlpHttpOptions& o, log::Signal signal) {
  const std::string* own = nullptr;
  switch (signal) {
    case log::Signal::kTraces:
      own = &o.traces_endpoint;
      break;
    case log::Signal::kMetrics:
      own = &o.metrics_endpoint;
      break;
    case log::Signal::kLogs:
      own = &o.logs_endpoint;
      break;
  }
  if (!own->empty()) return *own;
  if (o.endpoint.empty()) return "";
  std::string base = o.endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + OtlpConcatEncoder::Route(signal);
}

OtlpConcatEncoder::OtlpConcatEncoder(uint64_t max_bytes, telemetry::Counter& unsupported_items)
    : max_bytes_(max_bytes), unsupported_items_(unsupported_items) {
  for (log::Signal s : {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}) {
    open_[SignalIndex(s)].signal = s;
    open_[SignalIndex(s)].route = Route(s);
  }
}

const char* OtlpConcatEncoder::Route(log::Signal signal) {
  switch (signal) {
    case log::Signal::kTraces:
      return "/v1/traces";
    case log::Signal::kMetrics:
      return "/v1/metrics";
    case log::Signal::kLogs:
      return "/v1/logs";
  }
  return "/v1/traces";
}

void OtlpConcatEncoder::EmitOpen(size_t i, const EmitFn& emit) {
  pipeline::OutboundRequest& r = open_[i];
  if (r.body.empty()) return;
  pipeline::OutboundRequest out;
  out.signal = r.signal;
  out.route = r.route;
  out.body = std::move(r.body);
  out.items = r.items;
  out.first_record = r.first_record;
  r.body = std::string();
  r.body.reserve(std::min<uint64_t>(max_bytes_, 1u << 20));
  r.items = 0;
  emit(std::move(out));
}

void OtlpConcatEncoder::Add(const log::LogReader::Batch& batch, uint64_t record,
                            const EmitFn& emit) {
  if (batch.header.encoding != log::Encoding::kOtlpProto) {
    unsupported_items_.Inc(batch.header.item_count);
    return;
  }
  if (batch.payload.empty()) return;
  size_t i = SignalIndex(batch.header.signal);
  pipeline::OutboundRequest& r = open_[i];
  if (!r.body.empty() && r.body.size() + batch.payload.size() > max_bytes_) EmitOpen(i, emit);
  if (r.body.empty()) r.first_record = record;
  r.body.append(batch.payload);
  r.items += batch.header.item_count;
  if (r.body.size() >= max_bytes_) EmitOpen(i, emit);
}

void OtlpConcatEncoder::Flush(const EmitFn& emit) {
  for (size_t i = 0; i < 3; ++i) EmitOpen(i, emit);
}

std::optional<uint64_t> OtlpConcatEncoder::OldestHeld() const {
  std::optional<uint64_t> oldest;
  for (const auto& r : open_) {
    if (!r.body.empty() && (!oldest || r.first_record < *oldest)) oldest = r.first_record;
  }
  return oldest;
}

OtlpHttpSender::OtlpHttpSender(const OtlpHttpOptions& options) : options_(options) {}

pipeline::SendResult OtlpHttpSender::Send(const pipeline::OutboundRequest& request) {
  size_t i = SignalIndex(request.signal);
  if (!clients_[i]) {
    Result<Endpoint> e = Endpoint::Parse(SignalUrl(options_, request.signal));
    if (!e.ok()) return pipeline::SendResult::Permanent(e.status().message());
    Endpoint ep = *e;
    std::string path = ep.path;
    ep.path.clear();
    clients_[i] = std::make_unique<HttpClient>(ep, options_.timeout, options_.headers);
    paths_[i] = path.empty() ? "/" : path;
  }
  Headers extra = {{"Content-Type", "application/x-protobuf"}};
  std::string_view body = request.body;
  if (options_.compression != wire::Compression::kNone) {
    compressed_ = wire::Compress(options_.compression, request.body);
    body = compressed_;
    extra.emplace_back("Content-Encoding", EncodingName(options_.compression));
  }
  Result<HttpReply> reply = clients_[i]->Post(paths_[i], body, extra);
  pipeline::SendResult result = ClassifyHttp(reply, "OTLP/HTTP destination");
  if (result.ok() && reply->content_type.find("protobuf") != std::string::npos) {
    ReadPartialSuccess(reply->body, &result.rejected_items, &result.reason);
  }
  return result;
}

pipeline::ComponentType OtlpHttpExporterType() {
  pipeline::ComponentType t = pipeline::MakeExporterType(
      "otlphttp", "Sends traces, metrics and logs as OTLP/HTTP protobuf.",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, OtlpHttpOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const OtlpHttpOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        return std::unique_ptr<pipeline::Exporter>(new OtlpHttpExporter(s, o, rt));
      });
  return pipeline::WithSender<OtlpHttpOptions>(
      std::move(t), [](const OtlpHttpOptions& o) -> std::unique_ptr<pipeline::Sender> {
        return std::make_unique<OtlpHttpSender>(o);
      });
}

}  // namespace sluice::exporters::otlphttp
