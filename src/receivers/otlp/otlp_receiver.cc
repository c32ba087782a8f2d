#include "receivers/otlp/otlp_receiver.h"

#include <atomic>
#include <memory>

#include "base/logging.h"
#include "net/http_server.h"
#include "receivers/common/ingest.h"
#include "wire/compression.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/rpc_status.h"

namespace sluice::receivers::otlp {
namespace {

constexpr const char* kProtobuf = "application/x-protobuf";

// What differs between the three signals.
struct SignalSpec {
  log::Signal signal;
  const char* name;  // "traces"
  const char* item;  // "spans": metric names and messages
  const char* request_type;
  Status (*inspect)(std::string_view, wire::otlp::Inspection*);
};

constexpr SignalSpec kSignals[] = {
    {log::Signal::kTraces, "traces", "spans", "ExportTraceServiceRequest",
     wire::otlp::InspectTraces},
    {log::Signal::kMetrics, "metrics", "metric_points", "ExportMetricsServiceRequest",
     wire::otlp::InspectMetrics},
    {log::Signal::kLogs, "logs", "log_records", "ExportLogsServiceRequest",
     wire::otlp::InspectLogs},
};

net::HttpResponse RpcError(int http_status, int rpc_code, const std::string& message) {
  net::HttpResponse r;
  r.status = http_status;
  r.content_type = kProtobuf;
  r.body = wire::otlp::EncodeRpcStatus(rpc_code, message);
  return r;
}

net::HttpResponse RetryLater(const std::string& message) {
  net::HttpResponse r = RpcError(503, wire::otlp::kRpcUnavailable, message);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

class OtlpHttpHandler final : public net::HttpHandler {
 public:
  OtlpHttpHandler(const std::string& id, const HttpOptions& options,
                  const std::vector<pipeline::PipelineRef>& pipelines, pipeline::Runtime& rt)
      : options_(options), tenant_header_(Lower(options.tenant_header)), rt_(rt) {
    for (const SignalSpec& spec : kSignals) {
      Route route{&spec, {}, std::make_unique<IngestCounters>(rt.metrics, id, spec.item)};
      for (const auto& p : pipelines) {
        if (p.signal == spec.signal) route.pipelines.push_back(p);
      }
      routes_.push_back(std::move(route));
    }
  }

  void Handle(net::HttpRequest&& req, net::Responder respond) override {
    Route* route = Find(req.path);
    if (route == nullptr) return respond(net::HttpResponse::Text(404, "not found: " + req.path));
    if (route->pipelines.empty()) {
      return respond(net::HttpResponse::Text(
          404, std::string("no ") + route->spec->name + " pipeline uses this receiver"));
    }
    if (req.method != "POST") {
      net::HttpResponse r = net::HttpResponse::Text(405, "use POST");
      r.headers.emplace_back("Allow", "POST");
      return respond(std::move(r));
    }
    IngestCounters& m = *route->metrics;
    if (!Authorized(req, options_.auth.bearer_token)) {
      m.Refused("unauthorized", 0);
      net::HttpResponse r = RpcError(401, 16, "missing or invalid bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(std::move(r));
    }
    if (MediaType(req.Header("content-type")) != kProtobuf) {
      m.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(415, "unsupported Content-Type \"" +
                                                      std::string(req.Header("content-type")) +
                                                      "\"; use application/x-protobuf"));
    }
    wire::Compression compression;
    if (!wire::ParseContentEncoding(req.Header("content-encoding"), &compression) ||
        compression == wire::Compression::kSnappyBlock) {
      m.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(415, "unsupported Content-Encoding \"" +
                                                      std::string(req.Header("content-encoding")) +
                                                      "\"; use gzip, zstd or none"));
    }
    std::string_view tenant = req.Header(tenant_header_);
    if (tenant.size() > log::kMaxTenantSize) {
      m.Refused("invalid", 0);
      return respond(
          RpcError(400, wire::otlp::kRpcInvalidArgument, "tenant header longer than 256 bytes"));
    }
    std::string body;
    if (compression == wire::Compression::kNone) {
      body = std::move(req.body);
    } else {
      Status st = wire::Decompress(compression, req.body, options_.max_request_body_size, &body);
      if (!st.ok()) {
        bool too_large = st.code() == StatusCode::kResourceExhausted;
        m.Refused(too_large ? "too_large" : "invalid", 0);
        return respond(
            RpcError(too_large ? 413 : 400, wire::otlp::kRpcInvalidArgument, st.message()));
      }
      req.body = std::string();
    }
    wire::otlp::Inspection ins;
    Status st = route->spec->inspect(body, &ins);
    if (!st.ok()) {
      m.Refused("invalid", ins.items);
      return respond(
          RpcError(400, wire::otlp::kRpcInvalidArgument,
                   std::string("invalid ") + route->spec->request_type + ": " + st.message()));
    }
    if (ins.leaves > 0 && ins.rejected_leaves == ins.leaves) {
      m.Refused("invalid", ins.items);
      return respond(
          RpcError(400, wire::otlp::kRpcInvalidArgument,
                   std::string("invalid ") + route->spec->request_type + ": " + ins.first_error));
    }
    std::string partial;
    if (ins.rejected_leaves > 0) {
      m.Refused("invalid", ins.rejected_items);
      body = wire::otlp::FilterRequest(body, ins.leaf_ok);
      partial = wire::otlp::EncodePartialSuccess(
          ins.rejected_items, "rejected " + std::to_string(ins.rejected_items) + " " +
                                  route->spec->item + "; first: " + ins.first_error);
    }
    Batch batch;
    batch.signal = route->spec->signal;
    batch.encoding = log::Encoding::kOtlpProto;
    batch.tenant = std::string(tenant);
    batch.items = ins.items - ins.rejected_items;
    batch.min_time_unix_nano = ins.min_time_unix_nano;
    batch.max_time_unix_nano = ins.max_time_unix_nano;
    batch.payload = std::move(body);
    if (batch.items == 0) return respond(Success(std::move(partial)));
    auto reply = std::make_shared<net::Responder>(std::move(respond));
    bool queued = Store(rt_, route->pipelines, m, std::move(batch),
                        [reply, partial = std::move(partial)](Status st) mutable {
                          if (!st.ok()) {
                            (*reply)(RetryLater("cannot store the request now: " + st.message()));
                          } else {
                            (*reply)(Success(std::move(partial)));
                          }
                        });
    if (!queued) (*reply)(RetryLater("too many request bytes in flight; retry later"));
  }

 private:
  struct Route {
    const SignalSpec* spec;
    std::vector<pipeline::PipelineRef> pipelines;
    std::unique_ptr<IngestCounters> metrics;
  };

  Route* Find(const std::string& path) {
    for (auto& r : routes_) {
      const std::string& p = r.spec->signal == log::Signal::kTraces    ? options_.traces_url_path
                             : r.spec->signal == log::Signal::kMetrics ? options_.metrics_url_path
                                                                       : options_.logs_url_path;
      if (p == path) return &r;
    }
    return nullptr;
  }

  static net::HttpResponse Success(std::string body) {
    net::HttpResponse r;
    r.content_type = kProtobuf;
    r.body = std::move(body);  // an Export*ServiceResponse, empty unless partial
    return r;
  }

  const HttpOptions options_;
  const std::string tenant_header_;
  pipeline::Runtime& rt_;
  std::vector<Route> routes_;
};

class OtlpReceiver final : public pipeline::Receiver {
 public:
  OtlpReceiver(const pipeline::ComponentSettings& settings, const OtlpOptions& options,
               pipeline::Runtime& rt)
      : settings_(settings), options_(options), rt_(rt) {}

  Status Start() override {
    if (!options_.protocols.http) return Status::Ok();
    const HttpOptions& h = *options_.protocols.http;
    handler_ = std::make_unique<OtlpHttpHandler>(settings_.id, h, settings_.pipelines, rt_);
    net::HttpServerOptions o;
    o.name = settings_.id + "/http";
    o.endpoint = h.endpoint;
    o.max_body_bytes = h.max_request_body_size;
    o.header_read_timeout = h.read_header_timeout;
    o.body_read_timeout = h.read_timeout;
    o.idle_timeout = h.idle_timeout;
    SLUICE_ASSIGN_OR_RETURN(http_, net::HttpServer::Create(rt_.io, o, *handler_, rt_.metrics));
    http_->Start();
    return Status::Ok();
  }

  std::vector<std::string> Addresses() const override {
    std::vector<std::string> out;
    if (http_) out.push_back("http " + http_->BoundAddress());
    return out;
  }

  void StopAccepting() override {
    if (http_) http_->StopAccepting();
  }
  bool Drain(pipeline::Deadline deadline) override { return !http_ || http_->WaitIdle(deadline); }
  void Shutdown() override {
    if (http_) http_->CloseAll();
  }

 private:
  const pipeline::ComponentSettings settings_;
  const OtlpOptions options_;
  pipeline::Runtime& rt_;
  std::unique_ptr<OtlpHttpHandler> handler_;
  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace

const config::Schema<OtlpOptions>& OtlpOptionsSchema() {
  static const config::Schema<OtlpOptions> schema = [] {
    config::Schema<AuthOptions> auth("otlp.protocols.http.auth");
    auth.String("bearer_token", &AuthOptions::bearer_token,
                "When set, requests must carry `Authorization: Bearer <token>` (compared in "
                "constant time); others get 401. Use ${env:NAME} to keep it out of the file.");
    config::Schema<HttpOptions> http("otlp.protocols.http");
    http.String("endpoint", &HttpOptions::endpoint,
                "host:port to listen on for OTLP/HTTP; port 0 picks a free port.")
        .Bytes("max_request_body_size", &HttpOptions::max_request_body_size,
               "Largest request body accepted; larger ones get 413.",
               {1024.0L * 1024, 256.0L * 1024 * 1024})
        .String("traces_url_path", &HttpOptions::traces_url_path, "Path for trace exports.")
        .String("metrics_url_path", &HttpOptions::metrics_url_path, "Path for metric exports.")
        .String("logs_url_path", &HttpOptions::logs_url_path, "Path for log exports.")
        .Object("auth", &HttpOptions::auth, auth, "")
        .Duration("read_header_timeout", &HttpOptions::read_header_timeout,
                  "Time allowed for a request's headers to arrive.", {1e6L, 600e9L})
        .Duration("read_timeout", &HttpOptions::read_timeout,
                  "Time allowed for a request's body to arrive.", {1e6L, 3600e9L})
        .Duration("idle_timeout", &HttpOptions::idle_timeout,
                  "Time an idle keep-alive connection is kept open.", {1e9L, 86400e9L})
        .String("tenant_header", &HttpOptions::tenant_header,
                "Request header whose value is stored as the batch's tenant.");
    config::Schema<Protocols> protocols("otlp.protocols");
    protocols.OptionalObject("http", &Protocols::http, http,
                             "OTLP over HTTP; enabled when present.");
    config::Schema<OtlpOptions> s("otlp");
    s.Object("protocols", &OtlpOptions::protocols, protocols, "");
    return s;
  }();
  return schema;
}

pipeline::ComponentType OtlpReceiverType() {
  return pipeline::MakeReceiverType(
      "otlp",
      "Receives OTLP traces, metrics and logs over HTTP (application/x-protobuf, optionally "
      "gzip- or zstd-compressed).",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, OtlpOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const OtlpOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Receiver>> {
        if (!o.protocols.http) {
          return Status::InvalidArgument("no protocol is enabled (add protocols.http)");
        }
        return std::unique_ptr<pipeline::Receiver>(new OtlpReceiver(s, o, rt));
      });
}

}  // namespace sluice::receivers::otlp
