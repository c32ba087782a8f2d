#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/result.h"
#include "net/http_server.h"
#include "receivers/otlp/ingest.h"

namespace grpc {
class AsyncGenericService;
class Server;
class ServerCompletionQueue;
}  // namespace grpc

namespace sluice::receivers::otlp {

struct GrpcKeepaliveServerParameters {
  std::chrono::nanoseconds time = std::chrono::seconds(60);     // ping an idle client this often
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);  // close if the ping goes unanswered
  std::chrono::nanoseconds max_connection_idle = std::chrono::minutes(10);
  std::chrono::nanoseconds max_connection_age = std::chrono::hours(2);
};

struct GrpcKeepalive {
  GrpcKeepaliveServerParameters server_parameters;
};

using TlsOptions = net::TlsFiles;

struct GrpcOptions {
  std::string endpoint = "127.0.0.1:4317";
  std::optional<TlsOptions> tls;  // plaintext when absent
  uint64_t max_recv_msg_size = 16ull << 20;
  int64_t max_concurrent_streams = 1000;
  GrpcKeepalive keepalive;
  std::string bearer_token;
  std::string tenant_header = "X-Scope-OrgID";
};

// OTLP over gRPC: the trace, metrics and logs Export methods, served through
// gRPC's generic async API so a request's bytes reach the zero-copy walker
// without the protobuf library's message classes. One completion-queue
// thread drives every call; a call is answered from the log's completion.
//
// Answers: OK with the Export*ServiceResponse; INVALID_ARGUMENT for bad data;
// UNAUTHENTICATED without the bearer token; UNIMPLEMENTED for a method or
// signal it does not serve; UNAVAILABLE with a google.rpc.RetryInfo detail
// when sluice cannot take the request now. Messages over max_recv_msg_size
// are refused by gRPC itself (RESOURCE_EXHAUSTED).
class OtlpGrpcServer {
 public:
  static Result<std::unique_ptr<OtlpGrpcServer>> Start(const GrpcOptions& options,
                                                       OtlpIngest& ingest);
  ~OtlpGrpcServer();

  std::string BoundAddress() const { return bound_; }
  // Stops accepting and waits for calls in flight until the deadline (then
  // cancels them). True when every call finished in time.
  bool Drain(std::chrono::steady_clock::time_point deadline);
  // Ends the completion-queue thread.
  void Stop();

  class Call;

 private:
  OtlpGrpcServer(const GrpcOptions& options, OtlpIngest& ingest);
  void Poll();

  const GrpcOptions options_;
  const std::string tenant_key_;
  OtlpIngest& ingest_;
  std::unique_ptr<grpc::AsyncGenericService> service_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  std::string bound_;
  std::atomic<int64_t> in_flight_{0};
  bool shut_down_ = false;
  bool stopped_ = false;
  std::thread poller_;
};

// google.rpc.Status{code, message, details: [RetryInfo{retry_delay}]} as the
// binary error details gRPC sends in grpc-status-details-bin.
std::string EncodeStatusWithRetryInfo(int code, std::string_view message,
                                      std::chrono::seconds retry_delay);

}  // namespace sluice::receivers::otlp
