#include "receivers/prometheus_remote_write/remote_write_receiver.h"

#include <memory>
#include <optional>
#include <string_view>

#include "base/check.h"
#include "net/http_server.h"
#include "receivers/common/http_options.h"
#include "receivers/common/ingest.h"
#include "wire/compression.h"
#include "wire/prom/remote_write.h"
#include "wire/prom/remote_write_v2.h"

namespace sluice::receivers::prometheus_remote_write {
namespace {

// The Content-Type `proto` parameters of the two versions (remote write 2.0
// specification, "Content-Type"); 1.0 may also be sent without one.
constexpr std::string_view kProtoV1 = "prometheus.WriteRequest";
constexpr std::string_view kProtoV2 = "io.prometheus.write.v2.Request";

// What a 2.0 answer reports in its X-Prometheus-Remote-Write-*-Written headers.
struct Written {
  uint64_t samples = 0;
  uint64_t histograms = 0;
  uint64_t exemplars = 0;
};

// Remote write 1.0 (a snappy-compressed prometheus.WriteRequest) and 2.0 (a
// snappy-compressed io.prometheus.write.v2.Request, converted to the 1.0
// encoding before it is stored), told apart by Content-Type. Answers follow
// the specifications: 204 when stored; 400 for data that must not be retried
// (the valid series of a partly bad request are stored first); 413, 415; 503
// with Retry-After when sluice cannot take it now. Every 2.0 answer to a
// decoded body carries the written counts, zero when nothing was stored.
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
    if (MediaType(content_type) != "application/x-protobuf") {
      counters_.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(
          415, "unsupported Content-Type \"" + std::string(content_type) +
                   "\"; send application/x-protobuf with proto=" + std::string(kProtoV2) +
                   " (remote write 2.0) or proto=" + std::string(kProtoV1) + " (1.0)"));
    }
    std::string proto = MediaTypeParameter(content_type, "proto");
    const bool v2 = proto == kProtoV2;
    if (!v2 && !proto.empty() && proto != kProtoV1) {
      counters_.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(
          415, "unsupported proto \"" + proto + "\"; this receiver accepts " +
                   std::string(kProtoV2) + " (remote write 2.0) and " + std::string(kProtoV1) +
                   " (1.0)"));
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
    // Decompressed into memory this I/O thread keeps: nothing below holds
    // on to the decompressed bytes past this call (what is stored is the
    // body as sent, or a copy).
    thread_local std::string scratch;
    std::string_view body;
    Status st =
        wire::SnappyDecompressInto(req.body, options_.max_request_body_size, &scratch, &body);
    if (!st.ok()) {
      bool too_large = st.code() == StatusCode::kResourceExhausted;
      counters_.Refused(too_large ? "too_large" : "invalid", 0);
      return respond(net::HttpResponse::Text(too_large ? 413 : 400, st.message()));
    }
    if (v2) {
      req.body = std::string();
      HandleV2(body, tenant, std::move(respond));
    } else {
      HandleV1(std::move(req.body), body, tenant, std::move(respond));
    }
    wire::ReleaseLargeScratch(&scratch);
  }

 private:
  // `compressed` is the body as sent, `body` its decompressed bytes. A
  // request whose series are all valid is stored as sent: a quarter or less
  // of the bytes for the log to write and the exporters to read back.
  void HandleV1(std::string compressed, std::string_view body, std::string_view tenant,
                net::Responder respond) {
    wire::prom::WriteInspection ins;
    Status st = wire::prom::InspectWriteRequest(body, &ins);
    if (!st.ok()) {
      counters_.Refused("invalid", ins.items);
      return respond(net::HttpResponse::Text(400, st.message()));
    }
    std::string rejected;
    std::string filtered;
    if (ins.rejected_series > 0) {
      counters_.Refused("invalid", ins.rejected_items);
      rejected = "rejected " + std::to_string(ins.rejected_series) + " of " +
                 std::to_string(ins.series) + " series (" + std::to_string(ins.rejected_items) +
                 " samples); first: " + ins.first_error;
      if (ins.rejected_series == ins.series) {
        return respond(net::HttpResponse::Text(400, rejected));
      }
      filtered = wire::prom::FilterWriteRequest(body, ins.series_ok);
    }
    const bool as_sent = ins.rejected_series == 0;
    Batch batch =
        MakeBatch(tenant, ins.items - ins.rejected_items, ins.min_timestamp_ms,
                  ins.max_timestamp_ms, as_sent ? std::move(compressed) : std::move(filtered));
    if (as_sent) batch.encoding = log::Encoding::kPromRemoteWriteSnappy;
    if (batch.items == 0 && rejected.empty()) return respond(NoContent(std::nullopt));
    StoreAndAnswer(std::move(batch), std::move(rejected), std::nullopt, std::move(respond));
  }

  void HandleV2(std::string_view body, std::string_view tenant, net::Responder respond) {
    wire::prom::V2Conversion conv;
    Status st = wire::prom::ConvertRequestV2(body, &conv);
    if (!st.ok()) {
      counters_.Refused("invalid", 0);
      return respond(WithWritten(net::HttpResponse::Text(400, st.message()), Written{}));
    }
    if (conv.invalid_items > 0) counters_.Refused("invalid", conv.invalid_items);
    if (conv.unsupported_items > 0) counters_.Refused("unsupported", conv.unsupported_items);
    std::string rejected;
    if (conv.rejected_series() > 0) {
      rejected = "rejected " + std::to_string(conv.rejected_series()) + " of " +
                 std::to_string(conv.series) + " series (" +
                 std::to_string(conv.invalid_items + conv.unsupported_items) +
                 " samples and histograms; " + std::to_string(conv.invalid_series) + " invalid, " +
                 std::to_string(conv.unsupported_series) +
                 " unsupported); first: " + conv.first_error;
    }
    const Written written{conv.samples, conv.histograms, conv.exemplars};
    Batch batch = MakeBatch(tenant, conv.samples + conv.histograms, conv.min_timestamp_ms,
                            conv.max_timestamp_ms, std::move(conv.write_request));
    if (batch.payload.empty()) {  // no series kept, so nothing to store
      if (!rejected.empty()) {
        return respond(WithWritten(net::HttpResponse::Text(400, rejected), Written{}));
      }
      return respond(NoContent(Written{}));
    }
    StoreAndAnswer(std::move(batch), std::move(rejected), written, std::move(respond));
  }

  static Batch MakeBatch(std::string_view tenant, uint64_t items, int64_t min_ms, int64_t max_ms,
                         std::string payload) {
    Batch batch;
    batch.signal = log::Signal::kMetrics;
    batch.encoding = log::Encoding::kPromRemoteWriteProto;
    batch.tenant = std::string(tenant);
    batch.items = items;
    // Invariant: both decoders reject a series whose timestamps would not
    // fit in nanoseconds, so neither product overflows.
    SLUICE_DCHECK(wire::prom::TimestampInRange(min_ms) && wire::prom::TimestampInRange(max_ms));
    batch.min_time_unix_nano = min_ms * wire::prom::kNanosPerMilli;
    batch.max_time_unix_nano = max_ms * wire::prom::kNanosPerMilli;
    batch.payload = std::move(payload);
    return batch;
  }

  // Stores `batch`, then answers 204, or 400 with `rejected` when some
  // series were left out. `written` (2.0 only) goes into the headers of
  // those answers; the 503s report nothing written.
  void StoreAndAnswer(Batch batch, std::string rejected, std::optional<Written> written,
                      net::Responder respond) {
    auto reply = std::make_shared<net::Responder>(std::move(respond));
    std::optional<Written> none;
    if (written) none = Written{};
    bool queued =
        Store(rt_, pipelines_, counters_, std::move(batch),
              [reply, rejected = std::move(rejected), written, none](Status stored) {
                if (stored.code() == StatusCode::kInvalidArgument) {
                  (*reply)(WithWritten(net::HttpResponse::Text(400, stored.message()), none));
                } else if (!stored.ok()) {
                  (*reply)(WithWritten(
                      RetryLaterText("cannot store the request now: " + stored.message()), none));
                } else if (!rejected.empty()) {
                  (*reply)(WithWritten(net::HttpResponse::Text(400, rejected), written));
                } else {
                  (*reply)(NoContent(written));
                }
              });
    if (!queued) {
      (*reply)(WithWritten(RetryLaterText("too many request bytes in flight; retry later"), none));
    }
  }

  static net::HttpResponse WithWritten(net::HttpResponse r, std::optional<Written> written) {
    if (written) {
      r.headers.emplace_back("X-Prometheus-Remote-Write-Samples-Written",
                             std::to_string(written->samples));
      r.headers.emplace_back("X-Prometheus-Remote-Write-Histograms-Written",
                             std::to_string(written->histograms));
      r.headers.emplace_back("X-Prometheus-Remote-Write-Exemplars-Written",
                             std::to_string(written->exemplars));
    }
    return r;
  }

  static net::HttpResponse NoContent(std::optional<Written> written) {
    net::HttpResponse r;
    r.status = 204;
    return WithWritten(std::move(r), written);
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
      "Receives Prometheus remote write 2.0 (io.prometheus.write.v2.Request) and 1.0 "
      "(prometheus.WriteRequest), snappy-compressed.",
      {log::Signal::kMetrics}, RemoteWriteOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const RemoteWriteOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Receiver>> {
        return std::unique_ptr<pipeline::Receiver>(new RemoteWriteReceiver(s, o, rt));
      });
}

}  // namespace sluice::receivers::prometheus_remote_write
