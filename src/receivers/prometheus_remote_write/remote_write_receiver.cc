#include "receivers/prometheus_remote_write/remote_write_receiver.h"

#include <memory>

#include "net/http_server.h"
#include "receivers/common/http_options.h"
#include "receivers/common/ingest.h"
#include "wire/compression.h"
#include "wire/prom/remote_write.h"

namespace sluice::receivers::prometheus_remote_write {
namespace {

// Remote write 1.0: a snappy-compressed prometheus.WriteRequest. Answers
// follow the specification: 204 when stored; 400 for data that must not be
// retried (the valid series of a partly bad request are stored first); 413,
// 415; 503 with Retry-After when sluice cannot take it now.
class RemoteWriteHandler final : public net::HttpHandler {
 public:
  RemoteWriteHandler(const std::string& id, const RemoteWriteOptions& options,
                     std::vector<pipeline::PipelineRef> pipelines, pipeline::Runtime& rt)
      : options_(options),
        tenant_header_(Lower(options.tenant_header)),
        pipelines_(std::move(pipelines)),
        rt_(rt),
        counters_(rt.metrics, id, "metric_points") {}

  void Handle(net::HttpRequest&& req, net::Responder respond) override {
    if (req.path != options_.path) {
      return respond(net::HttpResponse::Text(404, "not found: " + req.path));
    }
    if (req.method != "POST") {
      net::HttpResponse r = net::HttpResponse::Text(405, "use POST");
      r.headers.emplace_back("Allow", "POST");
      return respond(std::move(r));
    }
    if (!Authorized(req, options_.bearer_token)) {
      counters_.Refused("unauthorized", 0);
      net::HttpResponse r = net::HttpResponse::Text(401, "missing or invalid bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(std::move(r));
    }
    std::string_view content_type = req.Header("content-type");
    std::string proto = MediaTypeParameter(content_type, "proto");
    if (MediaType(content_type) != "application/x-protobuf" ||
        (!proto.empty() && proto != "prometheus.WriteRequest")) {
      counters_.Refused("unsupported", 0);
      return respond(
          net::HttpResponse::Text(415, "unsupported Content-Type \"" + std::string(content_type) +
                                           "\"; send remote write 1.0: application/x-protobuf "
                                           "(proto=prometheus.WriteRequest)"));
    }
    wire::Compression compression;
    if (!wire::ParseContentEncoding(req.Header("content-encoding"), &compression) ||
        compression != wire::Compression::kSnappyBlock) {
      counters_.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(
          415, "unsupported Content-Encoding \"" + std::string(req.Header("content-encoding")) +
                   "\"; remote write bodies are snappy-compressed"));
    }
    std::string_view tenant = req.Header(tenant_header_);
    if (tenant.size() > log::kMaxTenantSize) {
      counters_.Refused("invalid", 0);
      return respond(net::HttpResponse::Text(400, "tenant header longer than 256 bytes"));
    }
    std::string body;
    Status st = wire::Decompress(compression, req.body, options_.max_request_body_size, &body);
    if (!st.ok()) {
      bool too_large = st.code() == StatusCode::kResourceExhausted;
      counters_.Refused(too_large ? "too_large" : "invalid", 0);
      return respond(net::HttpResponse::Text(too_large ? 413 : 400, st.message()));
    }
    req.body = std::string();
    wire::prom::WriteInspection ins;
    st = wire::prom::InspectWriteRequest(body, &ins);
    if (!st.ok()) {
      counters_.Refused("invalid", ins.items);
      return respond(net::HttpResponse::Text(400, st.message()));
    }
    std::string rejected;
    if (ins.rejected_series > 0) {
      counters_.Refused("invalid", ins.rejected_items);
      rejected = "rejected " + std::to_string(ins.rejected_series) + " of " +
                 std::to_string(ins.series) + " series (" + std::to_string(ins.rejected_items) +
                 " samples); first: " + ins.first_error;
      if (ins.rejected_series == ins.series) {
        return respond(net::HttpResponse::Text(400, rejected));
      }
      body = wire::prom::FilterWriteRequest(body, ins.series_ok);
    }
    Batch batch;
    batch.signal = log::Signal::kMetrics;
    batch.encoding = log::Encoding::kPromRemoteWriteProto;
    batch.tenant = std::string(tenant);
    batch.items = ins.items - ins.rejected_items;
    batch.min_time_unix_nano = ins.min_timestamp_ms * 1'000'000;
    batch.max_time_unix_nano = ins.max_timestamp_ms * 1'000'000;
    batch.payload = std::move(body);
    auto reply = std::make_shared<net::Responder>(std::move(respond));
    if (batch.items == 0 && rejected.empty()) return (*reply)(NoContent());
    bool queued =
        Store(rt_, pipelines_, counters_, std::move(batch),
              [reply, rejected = std::move(rejected)](Status stored) {
                if (!stored.ok()) {
                  (*reply)(RetryLaterText("cannot store the request now: " + stored.message()));
                } else if (!rejected.empty()) {
                  (*reply)(net::HttpResponse::Text(400, rejected));
                } else {
                  (*reply)(NoContent());
                }
              });
    if (!queued) (*reply)(RetryLaterText("too many request bytes in flight; retry later"));
  }

 private:
  static net::HttpResponse NoContent() {
    net::HttpResponse r;
    r.status = 204;
    return r;
  }

  const RemoteWriteOptions options_;
  const std::string tenant_header_;
  const std::vector<pipeline::PipelineRef> pipelines_;
  pipeline::Runtime& rt_;
  IngestCounters counters_;
};

class RemoteWriteReceiver final : public pipeline::Receiver {
 public:
  RemoteWriteReceiver(const pipeline::ComponentSettings& settings,
                      const RemoteWriteOptions& options, pipeline::Runtime& rt)
      : settings_(settings), options_(options), rt_(rt) {}

  Status Start() override {
    handler_ =
        std::make_unique<RemoteWriteHandler>(settings_.id, options_, settings_.pipelines, rt_);
    net::HttpServerOptions o = HttpServerOptionsFrom(settings_.id, options_);
    SLUICE_ASSIGN_OR_RETURN(http_, net::HttpServer::Create(rt_.io, o, *handler_, rt_.metrics));
    http_->Start();
    return Status::Ok();
  }
  std::vector<std::string> Addresses() const override { return {"http " + http_->BoundAddress()}; }
  void StopAccepting() override { http_->StopAccepting(); }
  bool Drain(pipeline::Deadline deadline) override { return http_->WaitIdle(deadline); }
  void Shutdown() override { http_->CloseAll(); }

 private:
  const pipeline::ComponentSettings settings_;
  const RemoteWriteOptions options_;
  pipeline::Runtime& rt_;
  std::unique_ptr<RemoteWriteHandler> handler_;
  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace

const config::Schema<RemoteWriteOptions>& RemoteWriteOptionsSchema() {
  static const config::Schema<RemoteWriteOptions> schema = [] {
    config::Schema<RemoteWriteOptions> s("prometheus_remote_write");
    AddHttpServerFields(s, "host:port to listen on; port 0 picks a free port.",
                        "prometheus_remote_write.tls");
    s.String("path", &RemoteWriteOptions::path, "Path remote write requests are sent to.")
        .String("bearer_token", &RemoteWriteOptions::bearer_token,
                "When set, requests must carry `Authorization: Bearer <token>` (compared in "
                "constant time); others get 401.");
    return s;
  }();
  return schema;
}

pipeline::ComponentType RemoteWriteReceiverType() {
  return pipeline::MakeReceiverType(
      "prometheus_remote_write",
      "Receives Prometheus remote write 1.0 (snappy-compressed prometheus.WriteRequest).",
      {log::Signal::kMetrics}, RemoteWriteOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const RemoteWriteOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Receiver>> {
        return std::unique_ptr<pipeline::Receiver>(new RemoteWriteReceiver(s, o, rt));
      });
}

}  // namespace sluice::receivers::prometheus_remote_write
