#include "receivers/otlp/grpc_server.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include "base/logging.h"
#include "base/thread.h"
#include "io/file_system.h"
#include "net/endpoint.h"
#include "wire/proto_writer.h"

namespace sluice::receivers::otlp {

std::string EncodeStatusWithRetryInfo(int code, std::string_view message,
                                      std::chrono::seconds retry_delay) {
  std::string retry_info;
  {
    wire::ProtoWriter w(&retry_info);
    size_t d = w.BeginMessage(1);  // RetryInfo.retry_delay: google.protobuf.Duration
    w.Varint(1, static_cast<uint64_t>(retry_delay.count()));
    w.EndMessage(d);
  }
  std::string out;
  wire::ProtoWriter w(&out);
  w.Varint(1, static_cast<uint64_t>(code));
  w.Bytes(2, message);
  size_t any = w.BeginMessage(3);  // google.protobuf.Any
  w.Bytes(1, "type.googleapis.com/google.rpc.RetryInfo");
  w.Bytes(2, retry_info);
  w.EndMessage(any);
  return out;
}

// One call's life on the completion queue:
//   kRequested --(a call arrived)--> kReading --(message read)--> handled;
//   the answer (from the log's completion) --> kFinishing --> deleted.
class OtlpGrpcServer::Call {
 public:
  explicit Call(OtlpGrpcServer& server) : server_(server), stream_(&ctx_) {
    server_.service_->RequestCall(&ctx_, &stream_, server_.cq_.get(), server_.cq_.get(), this);
  }

  void Proceed(bool ok) {
    switch (state_) {
      case State::kRequested:
        if (!ok) {  // shutting down
          delete this;
          return;
        }
        new Call(server_);  // be ready for the next one
        server_.in_flight_.fetch_add(1);
        counted_ = true;
        state_ = State::kReading;
        stream_.Read(&request_, this);
        return;
      case State::kReading:
        if (!ok) return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
        Handle();
        return;
      case State::kFinishing:
        if (counted_) server_.in_flight_.fetch_sub(1);
        delete this;
        return;
    }
  }

 private:
  enum class State { kRequested, kReading, kFinishing };

  std::string Metadata(const std::string& lower_key) {
    auto it = ctx_.client_metadata().find(lower_key);
    if (it == ctx_.client_metadata().end()) return "";
    return std::string(it->second.data(), it->second.size());
  }

  void Handle() {
    const SignalSpec* spec = nullptr;
    for (const SignalSpec& s : Signals()) {
      if (ctx_.method() == s.grpc_method) spec = &s;
    }
    if (spec == nullptr) {
      return Finish(
          grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method " + ctx_.method()));
    }
    if (!server_.ingest_.Serves(spec->signal)) {
      return Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 std::string("no ") + spec->name + " pipeline uses this receiver"));
    }
    if (!server_.options_.bearer_token.empty()) {
      std::string auth = Metadata("authorization");
      std::string_view token =
          auth.size() > 7 && Lower(std::string_view(auth).substr(0, 7)) == "bearer "
              ? std::string_view(auth).substr(7)
              : std::string_view();
      if (!ConstantTimeEquals(token, server_.options_.bearer_token)) {
        server_.ingest_.counters(spec->signal).Refused("unauthorized", 0);
        return Finish(
            grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or invalid bearer token"));
      }
    }
    std::vector<grpc::Slice> slices;
    std::string body;
    if (request_.Dump(&slices).ok()) {
      size_t n = 0;
      for (const auto& s : slices) n += s.size();
      body.reserve(n);
      for (const auto& s : slices) body.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    request_.Clear();
    server_.ingest_.Ingest(spec->signal, std::move(body), Metadata(server_.tenant_key_),
                           [this](Outcome o) { Answer(std::move(o)); });
  }

  // May run on the log's writer thread: no other operation is pending on the
  // stream then, so starting the final write here is safe.
  void Answer(Outcome o) {
    switch (o.kind) {
      case Outcome::Kind::kStored: {
        grpc::Slice slice(o.body);
        grpc::ByteBuffer response(&slice, 1);
        state_ = State::kFinishing;
        stream_.WriteAndFinish(response, grpc::WriteOptions(), grpc::Status::OK, this);
        return;
      }
      case Outcome::Kind::kInvalid:
        return Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, o.message));
      case Outcome::Kind::kRetry:
        return Finish(
            grpc::Status(grpc::StatusCode::UNAVAILABLE, o.message,
                         EncodeStatusWithRetryInfo(static_cast<int>(grpc::StatusCode::UNAVAILABLE),
                                                   o.message, std::chrono::seconds(1))));
    }
  }

  void Finish(const grpc::Status& status) {
    state_ = State::kFinishing;
    stream_.Finish(status, this);
  }

  OtlpGrpcServer& server_;
  grpc::GenericServerContext ctx_;
  grpc::GenericServerAsyncReaderWriter stream_;
  grpc::ByteBuffer request_;
  State state_ = State::kRequested;
  bool counted_ = false;
};

OtlpGrpcServer::OtlpGrpcServer(const GrpcOptions& options, OtlpIngest& ingest)
    : options_(options), tenant_key_(Lower(options.tenant_header)), ingest_(ingest) {}

Result<std::unique_ptr<OtlpGrpcServer>> OtlpGrpcServer::Start(const GrpcOptions& options,
                                                              OtlpIngest& ingest) {
  SLUICE_ASSIGN_OR_RETURN(net::Endpoint endpoint,
                          net::Endpoint::Parse(options.endpoint, net::EndpointForm::kHostPort));
  std::unique_ptr<OtlpGrpcServer> s(new OtlpGrpcServer(options, ingest));
  s->service_ = std::make_unique<grpc::AsyncGenericService>();
  auto ms = [](std::chrono::nanoseconds d) {
    return static_cast<int>(std::min<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(d).count(), INT32_MAX));
  };
  const auto& ka = options.keepalive.server_parameters;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (options.tls) {
    std::string cert;
    std::string key;
    for (auto [path, out] :
         {std::pair{&options.tls->cert_file, &cert}, std::pair{&options.tls->key_file, &key}}) {
      Result<std::string> pem = io::ReadSmallFile(io::FileSystem::Posix(), *path);
      if (!pem.ok()) return Status::InvalidArgument("tls: cannot read " + *path);
      *out = std::move(pem).value();
    }
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort(options.endpoint, credentials, &port);
  b.RegisterAsyncGenericService(s->service_.get());
  b.SetMaxReceiveMessageSize(static_cast<int>(options.max_recv_msg_size));
  b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                       static_cast<int>(options.max_concurrent_streams));
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(ka.time));
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(ka.timeout));
  b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(ka.max_connection_idle));
  b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(ka.max_connection_age));
  // Without this a second process could bind the same port and split the
  // traffic; a port in use must be an error.
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  s->cq_ = b.AddCompletionQueue();
  s->server_ = b.BuildAndStart();
  if (s->server_ && port == 0) {
    s->server_->Shutdown(std::chrono::system_clock::now());
    s->shut_down_ = true;
  }
  if (!s->server_ || port == 0) {
    return Status::Unavailable("cannot listen on " + options.endpoint +
                               " (gRPC): address in use or not available");
  }
  endpoint.port = static_cast<uint16_t>(port);
  s->bound_ = endpoint.HostPort();
  new Call(*s);
  s->poller_ = std::thread([p = s.get()] {
    SetThreadName("grpc-poll");
    p->Poll();
  });
  return s;
}

void OtlpGrpcServer::Poll() {
  void* tag;
  bool ok;
  while (cq_->Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
}

bool OtlpGrpcServer::Drain(std::chrono::steady_clock::time_point deadline) {
  if (shut_down_ || !server_) return true;
  shut_down_ = true;
  auto remaining = deadline - std::chrono::steady_clock::now();
  auto system_deadline = std::chrono::system_clock::now() +
                         std::chrono::duration_cast<std::chrono::system_clock::duration>(remaining);
  server_->Shutdown(system_deadline);
  return std::chrono::steady_clock::now() <= deadline || in_flight_.load() == 0;
}

void OtlpGrpcServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (server_ && !shut_down_) {
    shut_down_ = true;
    server_->Shutdown(std::chrono::system_clock::now());
  }
  if (!cq_) return;
  // A completion queue must be shut down and drained before it is destroyed,
  // also when the server never started.
  cq_->Shutdown();
  if (poller_.joinable()) {
    poller_.join();
  } else {
    void* tag;
    bool ok;
    while (cq_->Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
  }
}

OtlpGrpcServer::~OtlpGrpcServer() {
  Stop();
}

}  // namespace sluice::receivers::otlp
