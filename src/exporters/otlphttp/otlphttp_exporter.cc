#include "exporters/otlphttp/otlphttp_exporter.h"

#include "base/logging.h"
#include "exporters/common/destination.h"

namespace sluice::exporters::otlphttp {
namespace {

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
        .String("tenant_header", &OtlpHttpOptions::tenant_header, kTenantHeaderHelp)
        .Object("tls", &OtlpHttpOptions::tls, TlsClientOptionsSchema(),
                "Checks of the server's certificate for https:// endpoints.")
        .Duration("timeout", &OtlpHttpOptions::timeout,
                  "Limit on one attempt: connect, send and the answer.", {1e6L, 600e9L})
        .Bytes("max_request_bytes", &OtlpHttpOptions::max_request_bytes,
               "Batches are joined into requests up to this size (a larger batch goes alone).",
               {1024, 64.0L * 1024 * 1024})
        .Object("retry_on_failure", &OtlpHttpOptions::retry_on_failure, RetryOptionsSchema(), "")
        .Object("sending_queue", &OtlpHttpOptions::sending_queue, QueueOptionsSchema(), "")
        .Enum("start_at", &OtlpHttpOptions::start_at, StartAtChoices(), kStartAtHelp)
        .Object("dead_letter", &OtlpHttpOptions::dead_letter, DeadLetterOptionsSchema(), "")
        .Check([](const OtlpHttpOptions& o) -> std::string {
          for (log::Signal sig :
               {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}) {
            std::string url = SignalUrl(o, sig);
            if (url.empty()) {
              return "endpoint (or " + std::string(log::SignalName(sig)) + "_endpoint) is required";
            }
            std::string bad = net::CheckClientConfig(url, o.tls);
            if (!bad.empty()) return bad;
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

OtlpHttpSender::OtlpHttpSender(const OtlpHttpOptions& options) : options_(options) {}

pipeline::SendResult OtlpHttpSender::Send(const pipeline::OutboundRequest& request) {
  size_t i = OtlpSignalIndex(request.signal);
  if (!clients_[i]) {
    auto c = net::HttpClient::ForUrl(SignalUrl(options_, request.signal), options_.timeout,
                                     options_.headers, &paths_[i], options_.tls);
    // The configuration was checked at load; a TLS file gone since may come back.
    if (!c.ok()) return pipeline::SendResult::Retryable(c.status().message());
    clients_[i] = std::move(c).value();
  }
  net::Headers extra = {{"Content-Type", "application/x-protobuf"}};
  AddTenantHeader(options_.tenant_header, options_.headers, request.tenant, &extra);
  std::string_view body = request.body;
  if (options_.compression != wire::Compression::kNone) {
    compressed_ = wire::Compress(options_.compression, request.body);
    body = compressed_;
    extra.emplace_back("Content-Encoding", EncodingName(options_.compression));
  }
  Result<net::HttpReply> reply = clients_[i]->Post(paths_[i], body, extra);
  pipeline::SendResult result = ClassifyHttp(reply, "OTLP/HTTP destination");
  if (result.ok() && reply->content_type.find("protobuf") != std::string::npos) {
    ReadOtlpPartialSuccess(reply->body, &result.rejected_items, &result.reason);
  }
  return result;
}

pipeline::ComponentType OtlpHttpExporterType() {
  pipeline::ComponentType t = pipeline::MakeExporterType(
      "otlphttp", "Sends traces, metrics and logs as OTLP/HTTP protobuf.",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, OtlpHttpOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const OtlpHttpOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        return std::unique_ptr<pipeline::Exporter>(new RequestExporter(
            s, rt, o.start_at, o.retry_on_failure, o.sending_queue, o.dead_letter,
            [max = o.max_request_bytes](telemetry::Counter& unsupported) {
              return std::make_unique<OtlpConcatEncoder>(max, unsupported);
            },
            [o] { return std::make_unique<OtlpHttpSender>(o); }));
      });
  return Feedable(pipeline::WithSender<OtlpHttpOptions>(
      std::move(t), [](const OtlpHttpOptions& o) -> std::unique_ptr<pipeline::Sender> {
        return std::make_unique<OtlpHttpSender>(o);
      }));
}

}  // namespace sluice::exporters::otlphttp
