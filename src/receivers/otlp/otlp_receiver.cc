#include "receivers/otlp/otlp_receiver.h"

#include <atomic>
#include <memory>

#include "base/logging.h"
#include "net/http_server.h"
#include "wire/otlp/rpc_status.h"
#include "wire/otlp/traces.h"

namespace sluice::receivers::otlp {
namespace {

constexpr const char* kProtobuf = "application/x-protobuf";

struct ReceiverMetrics {
  ReceiverMetrics(telemetry::Registry& r, const std::string& id)
      : accepted_spans(r.AddCounter("sluice_receiver_accepted_spans_total",
                                    "Spans appended to the log and acknowledged.", {"receiver"})
                           .With({id})),
        refused(r.AddCounter("sluice_receiver_refused_spans_total",
                             "Spans rejected for what the client sent (reason=invalid, "
                             "unsupported, too_large).",
                             {"receiver", "reason"})),
        failed(r.AddCounter("sluice_receiver_failed_spans_total",
                            "Spans not accepted because sluice could not take them now "
                            "(reason=overload, unavailable, io_error); clients retry.",
                            {"receiver", "reason"})),
        id_(id) {}

  void Refused(const char* reason, uint64_t n) { refused.With({id_, reason}).Inc(n); }
  void Failed(const char* reason, uint64_t n) { failed.With({id_, reason}).Inc(n); }

  telemetry::Counter& accepted_spans;
  telemetry::CounterFamily& refused;
  telemetry::CounterFamily& failed;
  std::string id_;
};

net::HttpResponse ErrorResponse(int http_status, int rpc_code, const std::string& message) {
  net::HttpResponse r;
  r.status = http_status;
  r.content_type = kProtobuf;
  r.body = wire::otlp::EncodeRpcStatus(rpc_code, message);
  return r;
}

net::HttpResponse RetryLater(int http_status, const std::string& message) {
  net::HttpResponse r = ErrorResponse(http_status, wire::otlp::kRpcUnavailable, message);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Media type without parameters, lower-cased: "application/x-protobuf".
std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return Lower(t);
}

class OtlpHttpHandler final : public net::HttpHandler {
 public:
  OtlpHttpHandler(const std::string& id, const HttpOptions& options,
                  std::vector<pipeline::PipelineRef> trace_pipelines, pipeline::Runtime& rt)
      : options_(options),
        tenant_header_(Lower(options.tenant_header)),
        trace_pipelines_(std::move(trace_pipelines)),
        rt_(rt),
        metrics_(rt.metrics, id) {}

  void Handle(net::HttpRequest&& req, net::Responder respond) override {
    if (req.path != options_.traces_url_path) {
      if (req.path == "/v1/metrics" || req.path == "/v1/logs") {
        return respond(net::HttpResponse::Text(
            404, "no pipeline of this receiver takes " + req.path.substr(4)));
      }
      return respond(net::HttpResponse::Text(404, "not found: " + req.path));
    }
    if (trace_pipelines_.empty()) {
      return respond(net::HttpResponse::Text(404, "no traces pipeline uses this receiver"));
    }
    if (req.method != "POST") {
      net::HttpResponse r = net::HttpResponse::Text(405, "use POST");
      r.headers.emplace_back("Allow", "POST");
      return respond(std::move(r));
    }
    std::string media = MediaType(req.Header("content-type"));
    if (media != kProtobuf) {
      metrics_.Refused("unsupported", 0);
      return respond(net::HttpResponse::Text(415, "unsupported Content-Type \"" +
                                                      std::string(req.Header("content-type")) +
                                                      "\"; use application/x-protobuf"));
    }
    std::string encoding = Lower(req.Header("content-encoding"));
    if (!encoding.empty() && encoding != "identity") {
      metrics_.Refused("unsupported", 0);
      return respond(
          net::HttpResponse::Text(415, "unsupported Content-Encoding \"" + encoding + "\""));
    }
    std::string_view tenant = req.Header(tenant_header_);
    if (tenant.size() > log::kMaxTenantSize) {
      metrics_.Refused("invalid", 0);
      return respond(ErrorResponse(400, wire::otlp::kRpcInvalidArgument,
                                   "tenant header longer than 256 bytes"));
    }
    wire::otlp::TracesSummary summary;
    Status st = wire::otlp::WalkTraces(req.body, nullptr, &summary);
    if (!st.ok()) {
      metrics_.Refused("invalid", summary.spans);
      return respond(ErrorResponse(400, wire::otlp::kRpcInvalidArgument,
                                   "invalid ExportTraceServiceRequest: " + st.message()));
    }
    if (summary.spans == 0) return respond(Success());

    // One append per pipeline; answer when all have completed.
    struct Pending {
      std::atomic<size_t> left;
      std::atomic<int> worst{0};  // 0 ok, else the HTTP status to answer
      std::string message;
      std::mutex mu;
      net::Responder respond;
    };
    auto pending = std::make_shared<Pending>();
    pending->left = trace_pipelines_.size();
    pending->respond = std::move(respond);
    uint64_t spans = summary.spans;
    for (size_t i = 0; i < trace_pipelines_.size(); ++i) {
      log::AppendRequest a;
      a.signal = log::Signal::kTraces;
      a.encoding = log::Encoding::kOtlpProto;
      a.pipeline_id = trace_pipelines_[i].id;
      a.tenant = std::string(tenant);
      a.item_count = static_cast<uint32_t>(spans);
      a.min_event_unix_nanos = static_cast<int64_t>(summary.min_start_unix_nano);
      a.max_event_unix_nanos = static_cast<int64_t>(summary.max_end_unix_nano);
      a.payload = i + 1 == trace_pipelines_.size() ? std::move(req.body) : req.body;
      rt_.log.AppendAsync(std::move(a), [this, pending, spans](Result<log::AppendResult> r) {
        if (!r.ok()) {
          std::lock_guard<std::mutex> lock(pending->mu);
          pending->worst = 503;
          pending->message = r.status().message();
          const char* reason = r.status().code() == StatusCode::kResourceExhausted ? "overload"
                               : r.status().code() == StatusCode::kUnavailable     ? "unavailable"
                                                                                   : "io_error";
          metrics_.Failed(reason, spans);
        }
        if (pending->left.fetch_sub(1) != 1) return;
        if (pending->worst.load() != 0) {
          pending->respond(RetryLater(503, "cannot store the request now: " + pending->message));
        } else {
          metrics_.accepted_spans.Inc(spans);
          pending->respond(Success());
        }
      });
    }
  }

 private:
  static net::HttpResponse Success() {
    net::HttpResponse r;
    r.content_type = kProtobuf;  // an empty ExportTraceServiceResponse
    return r;
  }

  const HttpOptions options_;
  const std::string tenant_header_;
  const std::vector<pipeline::PipelineRef> trace_pipelines_;
  pipeline::Runtime& rt_;
  ReceiverMetrics metrics_;
};

class OtlpReceiver final : public pipeline::Receiver {
 public:
  OtlpReceiver(const pipeline::ComponentSettings& settings, const OtlpOptions& options,
               pipeline::Runtime& rt)
      : settings_(settings), options_(options), rt_(rt) {}

  Status Start() override {
    if (!options_.protocols.http) return Status::Ok();
    std::vector<pipeline::PipelineRef> traces;
    for (const auto& p : settings_.pipelines) {
      if (p.signal == log::Signal::kTraces) traces.push_back(p);
    }
    const HttpOptions& h = *options_.protocols.http;
    handler_ = std::make_unique<OtlpHttpHandler>(settings_.id, h, std::move(traces), rt_);
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
    config::Schema<HttpOptions> http("otlp.protocols.http");
    http.String("endpoint", &HttpOptions::endpoint,
                "host:port to listen on for OTLP/HTTP; port 0 picks a free port.")
        .Bytes("max_request_body_size", &HttpOptions::max_request_body_size,
               "Largest request body accepted; larger ones get 413.",
               {1024.0L * 1024, 256.0L * 1024 * 1024})
        .String("traces_url_path", &HttpOptions::traces_url_path, "Path for trace exports.")
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
      "otlp", "Receives OTLP over HTTP (application/x-protobuf).", {log::Signal::kTraces},
      OtlpOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const OtlpOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Receiver>> {
        if (!o.protocols.http) {
          return Status::InvalidArgument("no protocol is enabled (add protocols.http)");
        }
        return std::unique_ptr<pipeline::Receiver>(new OtlpReceiver(s, o, rt));
      });
}

}  // namespace sluice::receivers::otlp
