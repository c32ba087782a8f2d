#include "receivers/otlp/otlp_receiver.h"

#include <memory>

#include "base/strings.h"
#include "net/http_server.h"
#include "receivers/common/http_options.h"
#include "receivers/common/ingest.h"
#include "receivers/otlp/ingest.h"
#include "wire/compression.h"
#include "wire/otlp/rpc_status.h"

namespace sluice::receivers::otlp {
namespace {

constexpr const char* kProtobuf = "application/x-protobuf";
constexpr const char* kJson = "application/json";

// An error answer in the request's encoding: google.rpc.Status as protobuf
// or as JSON.
net::HttpResponse RpcError(int http_status, int rpc_code, const std::string& message,
                           bool json = false) {
  net::HttpResponse r;
  r.status = http_status;
  r.content_type = json ? kJson : kProtobuf;
  r.body = json ? wire::otlp::EncodeRpcStatusJson(rpc_code, message)
                : wire::otlp::EncodeRpcStatus(rpc_code, message);
  return r;
}

// The success answer: Export*ServiceResponse in the request's encoding.
net::HttpResponse Stored(const SignalSpec& spec, const Outcome& o, bool json) {
  net::HttpResponse r;
  if (!json) {
    r.content_type = kProtobuf;
    r.body = o.body;  // empty unless partial
    return r;
  }
  r.content_type = kJson;
  if (o.rejected == 0 && o.message.empty()) {
    r.body = "{}";
    return r;
  }
  r.body = std::string("{\"partialSuccess\":{\"") + spec.json_rejected + "\":\"" +
           std::to_string(o.rejected) + "\",\"errorMessage\":";
  AppendJsonString(r.body, o.message);
  r.body += "}}";
  return r;
}

// OTLP/HTTP: checks what is particular to HTTP (path, method, auth, media
// type, content encoding), decompresses, and hands the body to OtlpIngest.
class OtlpHttpHandler final : public net::HttpHandler {
 public:
  OtlpHttpHandler(const HttpOptions& options, OtlpIngest& ingest)
      : options_(options), tenant_header_(Lower(options.tenant_header)), ingest_(ingest) {}

  void Handle(net::HttpRequest&& req, net::Responder respond) override {
    const SignalSpec* spec = Find(req.path);
    if (spec == nullptr) return respond(net::HttpResponse::Text(404, "not found: " + req.path));
    if (!ingest_.Serves(spec->signal)) {
      return respond(net::HttpResponse::Text(
          404, std::string("no ") + spec->name + " pipeline uses this receiver"));
    }
    if (req.method != "POST") {
      net::HttpResponse r = net::HttpResponse::Text(405, "use POST");
      r.headers.emplace_back("Allow", "POST");
      return respond(std::move(r));
    }
    IngestCounters& m = ingest_.counters(spec->signal);
    if (!Authorized(req, options_.auth.bearer_token)) {
      m.Refused("unauthorized", 0);
      net::HttpResponse r = RpcError(401, 16, "missing or invalid bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(std::move(r));
    }
    std::string media = MediaType(req.Header("content-type"));
    if (media != kProtobuf && media != kJson) {
      m.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(
          415, "unsupported Content-Type \"" + std::string(req.Header("content-type")) +
                   "\"; use application/x-protobuf or application/json"));
    }
    const bool json = media == kJson;
    wire::Compression compression;
    if (!wire::ParseContentEncoding(req.Header("content-encoding"), &compression) ||
        compression == wire::Compression::kSnappyBlock) {
      m.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(415, "unsupported Content-Encoding \"" +
                                                      std::string(req.Header("content-encoding")) +
                                                      "\"; use gzip, zstd or none"));
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
            RpcError(too_large ? 413 : 400, wire::otlp::kRpcInvalidArgument, st.message(), json));
      }
      req.body = std::string();
    }
    if (json) {
      std::string proto;
      Status st = spec->from_json(body, &proto);
      if (!st.ok()) {
        m.Refused("invalid", 0);
        return respond(RpcError(400, wire::otlp::kRpcInvalidArgument,
                                std::string("invalid ") + spec->request_type + ": " + st.message(),
                                true));
      }
      body = std::move(proto);
    }
    auto reply = std::make_shared<net::Responder>(std::move(respond));
    ingest_.Ingest(
        spec->signal, std::move(body), std::string(req.Header(tenant_header_)),
        [reply, spec, json](Outcome o) {
          switch (o.kind) {
            case Outcome::Kind::kStored:
              return (*reply)(Stored(*spec, o, json));
            case Outcome::Kind::kInvalid:
              return (*reply)(RpcError(400, wire::otlp::kRpcInvalidArgument, o.message, json));
            case Outcome::Kind::kRetry: {
              net::HttpResponse r = RpcError(503, wire::otlp::kRpcUnavailable, o.message, json);
              r.headers.emplace_back("Retry-After", "1");
              return (*reply)(std::move(r));
            }
          }
        });
  }

 private:
  const SignalSpec* Find(const std::string& path) const {
    for (const SignalSpec& s : Signals()) {
      const std::string& p = s.signal == log::Signal::kTraces    ? options_.traces_url_path
                             : s.signal == log::Signal::kMetrics ? options_.metrics_url_path
                                                                 : options_.logs_url_path;
      if (p == path) return &s;
    }
    return nullptr;
  }

  const HttpOptions options_;
  const std::string tenant_header_;
  OtlpIngest& ingest_;
};

class OtlpReceiver final : public pipeline::Receiver {
 public:
  OtlpReceiver(const pipeline::ComponentSettings& settings, const OtlpOptions& options,
               pipeline::Runtime& rt)
      : settings_(settings),
        options_(options),
        rt_(rt),
        ingest_(settings.id, settings.pipelines, rt) {}

  Status Start() override {
    if (options_.protocols.grpc) {
      SLUICE_ASSIGN_OR_RETURN(grpc_, OtlpGrpcServer::Start(*options_.protocols.grpc, ingest_));
    }
    if (options_.protocols.http) {
      const HttpOptions& h = *options_.protocols.http;
      handler_ = std::make_unique<OtlpHttpHandler>(h, ingest_);
      net::HttpServerOptions o = HttpServerOptionsFrom(settings_.id + "/http", h);
      SLUICE_ASSIGN_OR_RETURN(http_, net::HttpServer::Create(rt_.io, o, *handler_, rt_.metrics));
      http_->Start();
    }
    return Status::Ok();
  }

  std::vector<std::string> Addresses() const override {
    std::vector<std::string> out;
    if (grpc_) out.push_back("grpc " + grpc_->BoundAddress());
    if (http_) out.push_back("http " + http_->BoundAddress());
    return out;
  }

  void StopAccepting() override {
    if (http_) http_->StopAccepting();
  }
  bool Drain(pipeline::Deadline deadline) override {
    bool in_time = !grpc_ || grpc_->Drain(deadline);
    return (!http_ || http_->WaitIdle(deadline)) && in_time;
  }
  void Shutdown() override {
    if (http_) http_->CloseAll();
    if (grpc_) grpc_->Stop();
  }

 private:
  const pipeline::ComponentSettings settings_;
  const OtlpOptions options_;
  pipeline::Runtime& rt_;
  OtlpIngest ingest_;
  std::unique_ptr<OtlpHttpHandler> handler_;
  std::unique_ptr<net::HttpServer> http_;
  std::unique_ptr<OtlpGrpcServer> grpc_;
};

}  // namespace

const config::Schema<OtlpOptions>& OtlpOptionsSchema() {
  static const config::Schema<OtlpOptions> schema = [] {
    config::Schema<AuthOptions> auth("otlp.protocols.http.auth");
    auth.String("bearer_token", &AuthOptions::bearer_token,
                "When set, requests must carry `Authorization: Bearer <token>` (compared in "
                "constant time); others get 401. Use ${env:NAME} to keep it out of the file.");
    config::Schema<HttpOptions> http("otlp.protocols.http");
    AddHttpServerFields(http, "host:port to listen on for OTLP/HTTP; port 0 picks a free port.",
                        "otlp.protocols.http.tls");
    http.String("traces_url_path", &HttpOptions::traces_url_path, "Path for trace exports.")
        .String("metrics_url_path", &HttpOptions::metrics_url_path, "Path for metric exports.")
        .String("logs_url_path", &HttpOptions::logs_url_path, "Path for log exports.")
        .Object("auth", &HttpOptions::auth, auth, "");
    config::Schema<GrpcKeepaliveServerParameters> server_parameters(
        "otlp.protocols.grpc.keepalive.server_parameters");
    server_parameters
        .Duration("time", &GrpcKeepaliveServerParameters::time,
                  "Ping a client after this long without activity.", {1e9L, 86400e9L})
        .Duration("timeout", &GrpcKeepaliveServerParameters::timeout,
                  "Close the connection if a ping is not answered within this.", {1e9L, 3600e9L})
        .Duration("max_connection_idle", &GrpcKeepaliveServerParameters::max_connection_idle,
                  "Close a connection with no calls for this long.", {1e9L, 7 * 86400e9L})
        .Duration("max_connection_age", &GrpcKeepaliveServerParameters::max_connection_age,
                  "Close a connection this old (gracefully), so clients rebalance.",
                  {1e9L, 30 * 86400e9L});
    config::Schema<GrpcKeepalive> keepalive("otlp.protocols.grpc.keepalive");
    keepalive.Object("server_parameters", &GrpcKeepalive::server_parameters, server_parameters, "");
    config::Schema<TlsOptions> tls = TlsSchema("otlp.protocols.grpc.tls");
    config::Schema<GrpcOptions> grpc("otlp.protocols.grpc");
    grpc.String("endpoint", &GrpcOptions::endpoint,
                "host:port to listen on for OTLP/gRPC; port 0 picks a free port.")
        .OptionalObject("tls", &GrpcOptions::tls, tls,
                        "Serve gRPC over TLS with this certificate; plaintext when absent.")
        .Bytes("max_recv_msg_size", &GrpcOptions::max_recv_msg_size,
               "Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED.",
               {1024.0L * 1024, 256.0L * 1024 * 1024})
        .Int("max_concurrent_streams", &GrpcOptions::max_concurrent_streams,
             "Most calls in flight on one connection.", {1, 1 << 20})
        .Object("keepalive", &GrpcOptions::keepalive, keepalive, "")
        .String("bearer_token", &GrpcOptions::bearer_token,
                "When set, calls must carry `authorization: Bearer <token>` metadata (compared "
                "in constant time); others get UNAUTHENTICATED.")
        .String("tenant_header", &GrpcOptions::tenant_header,
                "Metadata key whose value is stored as the batch's tenant.");
    config::Schema<Protocols> protocols("otlp.protocols");
    protocols
        .OptionalObject("grpc", &Protocols::grpc, grpc, "OTLP over gRPC; enabled when present.")
        .OptionalObject("http", &Protocols::http, http, "OTLP over HTTP; enabled when present.");
    config::Schema<OtlpOptions> s("otlp");
    s.Object("protocols", &OtlpOptions::protocols, protocols, "");
    return s;
  }();
  return schema;
}

pipeline::ComponentType OtlpReceiverType() {
  return pipeline::MakeReceiverType(
      "otlp",
      "Receives OTLP traces, metrics and logs over gRPC and over HTTP (application/x-protobuf, "
      "optionally gzip- or zstd-compressed).",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, OtlpOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const OtlpOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Receiver>> {
        if (!o.protocols.http && !o.protocols.grpc) {
          return Status::InvalidArgument("no protocol is enabled (add protocols.grpc or .http)");
        }
        return std::unique_ptr<pipeline::Receiver>(new OtlpReceiver(s, o, rt));
      });
}

}  // namespace sluice::receivers::otlp
