#include "exporters/otlp/otlp_exporter.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "exporters/common/otlp_requests.h"
#include "io/file_system.h"
#include "wire/proto_reader.h"

namespace sluice::exporters::otlp {
namespace {

// google.rpc.Status { details = 3 (Any) }; Any { type_url = 1, value = 2 };
// google.rpc.RetryInfo { retry_delay = 1 (Duration { seconds = 1, nanos = 2 }) }.
std::chrono::milliseconds RetryDelay(std::string_view status) {
  constexpr std::string_view kRetryInfo = "type.googleapis.com/google.rpc.RetryInfo";
  wire::ProtoReader s(status);
  while (s.Next()) {
    if (s.field() != 3 || !s.Is(wire::WireType::kLengthDelimited)) continue;
    std::string_view type;
    std::string_view value;
    wire::ProtoReader any(s.bytes());
    while (any.Next()) {
      if (any.field() == 1 && any.Is(wire::WireType::kLengthDelimited)) type = any.bytes();
      if (any.field() == 2 && any.Is(wire::WireType::kLengthDelimited)) value = any.bytes();
    }
    if (type != kRetryInfo) continue;
    int64_t seconds = 0;
    int64_t nanos = 0;
    wire::ProtoReader info(value);
    while (info.Next()) {
      if (info.field() != 1 || !info.Is(wire::WireType::kLengthDelimited)) continue;
      wire::ProtoReader d(info.bytes());
      while (d.Next()) {
        if (d.field() == 1 && d.Is(wire::WireType::kVarint)) seconds = d.as_int64();
        if (d.field() == 2 && d.Is(wire::WireType::kVarint)) nanos = d.as_int64();
      }
    }
    if (seconds < 0 || nanos < 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(std::min<int64_t>(seconds, 86400) * 1000 + nanos / 1'000'000);
  }
  return std::chrono::milliseconds(-1);
}

// Plaintext, or TLS with the configured files for an https:// endpoint; the
// error names the file that could not be read.
Result<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const OtlpGrpcOptions& o,
                                                              const net::Endpoint& endpoint) {
  if (!endpoint.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  for (auto [path, out] : {std::pair{&o.tls.ca_file, &ssl.pem_root_certs},
                           std::pair{&o.tls.cert_file, &ssl.pem_cert_chain},
                           std::pair{&o.tls.key_file, &ssl.pem_private_key}}) {
    if (path->empty()) continue;
    Result<std::string> pem = io::ReadSmallFile(io::FileSystem::Posix(), *path);
    if (!pem.ok()) return Status::InvalidArgument("tls: cannot read \"" + *path + "\"");
    *out = std::move(pem).value();
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

struct OtlpGrpcSender::Stub {
  explicit Stub(std::shared_ptr<grpc::Channel> channel) : generic(std::move(channel)) {}
  grpc::GenericStub generic;
};

const config::Schema<OtlpGrpcOptions>& OtlpGrpcOptionsSchema() {
  static const config::Schema<OtlpGrpcOptions> schema = [] {
    config::Schema<OtlpGrpcOptions> s("otlp");
    s.String("endpoint", &OtlpGrpcOptions::endpoint,
             "host:port (or http://host:port) of an OTLP/gRPC receiver; https://host:port "
             "for TLS.")
        .Required()
        .Bool("gzip", &OtlpGrpcOptions::gzip, "Compress messages with gzip.")
        .StringMap("headers", &OtlpGrpcOptions::headers,
                   "Metadata sent with every call (names are lower-cased).")
        .String("tenant_header", &OtlpGrpcOptions::tenant_header, kTenantHeaderHelp)
        .Object("tls", &OtlpGrpcOptions::tls, TlsClientOptionsSchema(),
                "Checks of the server's certificate for an https:// endpoint.")
        .Duration("timeout", &OtlpGrpcOptions::timeout, "Deadline of one Export call.",
                  {1e6L, 600e9L})
        .Bytes("max_request_bytes", &OtlpGrpcOptions::max_request_bytes,
               "Batches are joined into requests up to this size (a larger batch goes alone).",
               {1024, 64.0L * 1024 * 1024})
        .Object("retry_on_failure", &OtlpGrpcOptions::retry_on_failure, RetryOptionsSchema(), "")
        .Object("sending_queue", &OtlpGrpcOptions::sending_queue, QueueOptionsSchema(), "")
        .Enum("start_at", &OtlpGrpcOptions::start_at, StartAtChoices(), kStartAtHelp)
        .Object("dead_letter", &OtlpGrpcOptions::dead_letter, DeadLetterOptionsSchema(), "")
        .Check([](const OtlpGrpcOptions& o) -> std::string {
          Result<net::Endpoint> endpoint =
              net::Endpoint::Parse(o.endpoint, net::EndpointForm::kHostPortOrUrl);
          if (!endpoint.ok()) return endpoint.status().message();
          if (o.tls.insecure_skip_verify) {
            return "tls.insecure_skip_verify is not supported by the otlp exporter; give the "
                   "server's CA as tls.ca_file";
          }
          Result<std::shared_ptr<grpc::ChannelCredentials>> c = Credentials(o, *endpoint);
          if (!c.ok()) return c.status().message();
          return "";
        });
    return s;
  }();
  return schema;
}

const char* ExportMethod(log::Signal signal) {
  switch (signal) {
    case log::Signal::kTraces:
      return "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    case log::Signal::kMetrics:
      return "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
    case log::Signal::kLogs:
      return "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
  }
  return "";
}

pipeline::SendResult ClassifyGrpc(int code, const std::string& message,
                                  const std::string& details) {
  if (code == grpc::StatusCode::OK) return pipeline::SendResult::Ok();
  std::string reason = "OTLP/gRPC destination answered code " + std::to_string(code) +
                       (message.empty() ? "" : ": " + message);
  std::chrono::milliseconds delay = RetryDelay(details);
  switch (code) {
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
      return pipeline::SendResult::Retryable(std::move(reason), delay);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (delay.count() >= 0) return pipeline::SendResult::Retryable(std::move(reason), delay);
      return pipeline::SendResult::Permanent(std::move(reason));
    default:
      return pipeline::SendResult::Permanent(std::move(reason));
  }
}

OtlpGrpcSender::OtlpGrpcSender(const OtlpGrpcOptions& options)
    : options_(options), cq_(std::make_unique<grpc::CompletionQueue>()) {
  for (const auto& [k, v] : options_.headers) {
    std::string key = k;
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    metadata_.emplace_back(std::move(key), v);
  }
}

Status OtlpGrpcSender::Connect() {
  SLUICE_ASSIGN_OR_RETURN(
      net::Endpoint endpoint,
      net::Endpoint::Parse(options_.endpoint, net::EndpointForm::kHostPortOrUrl));
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                          Credentials(options_, endpoint));
  grpc::ChannelArguments args;
  // Each sender gets a connection of its own, so consumers send in parallel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(-1);
  if (!options_.tls.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options_.tls.server_name_override);
  }
  channel_ = grpc::CreateCustomChannel(endpoint.HostPort(), credentials, args);
  stub_ = std::make_unique<Stub>(channel_);
  return Status::Ok();
}

OtlpGrpcSender::~OtlpGrpcSender() {
  stub_.reset();
  cq_->Shutdown();
  void* tag;
  bool ok;
  while (cq_->Next(&tag, &ok)) {
  }
}

pipeline::SendResult OtlpGrpcSender::Send(const pipeline::OutboundRequest& request) {
  if (!stub_) {
    // The configuration was checked at load; a TLS file gone since may come back.
    Status st = Connect();
    if (!st.ok()) return pipeline::SendResult::Retryable(st.message());
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  ctx.set_wait_for_ready(false);
  if (options_.gzip) ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  for (const auto& [k, v] : metadata_) ctx.AddMetadata(k, v);
  net::Headers tenant;
  AddTenantHeader(options_.tenant_header, options_.headers, request.tenant, &tenant);
  for (auto& [k, v] : tenant) {
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    ctx.AddMetadata(k, v);
  }
  grpc::Slice slice(request.body.data(), request.body.size());
  grpc::ByteBuffer payload(&slice, 1);
  auto call =
      stub_->generic.PrepareUnaryCall(&ctx, ExportMethod(request.signal), payload, cq_.get());
  call->StartCall();
  grpc::ByteBuffer reply;
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  if (!cq_->Next(&tag, &ok) || !ok) {
    return pipeline::SendResult::Retryable("OTLP/gRPC call did not complete");
  }
  pipeline::SendResult result =
      ClassifyGrpc(status.error_code(), status.error_message(), status.error_details());
  if (result.ok()) {
    std::vector<grpc::Slice> slices;
    if (reply.Dump(&slices).ok()) {
      std::string body;
      for (const auto& s : slices) {
        body.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      ReadOtlpPartialSuccess(body, &result.rejected_items, &result.reason);
    }
  }
  return result;
}

pipeline::ComponentType OtlpGrpcExporterType() {
  pipeline::ComponentType t = pipeline::MakeExporterType(
      "otlp", "Sends traces, metrics and logs over OTLP/gRPC.",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, OtlpGrpcOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const OtlpGrpcOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        return std::unique_ptr<pipeline::Exporter>(new RequestExporter(
            s, rt, o.start_at, o.retry_on_failure, o.sending_queue, o.dead_letter,
            [max = o.max_request_bytes](telemetry::Counter& unsupported) {
              return std::make_unique<OtlpConcatEncoder>(max, unsupported);
            },
            [o] { return std::make_unique<OtlpGrpcSender>(o); }));
      });
  return Feedable(pipeline::WithSender<OtlpGrpcOptions>(
      std::move(t), [](const OtlpGrpcOptions& o) -> std::unique_ptr<pipeline::Sender> {
        return std::make_unique<OtlpGrpcSender>(o);
      }));
}

}  // namespace sluice::exporters::otlp
