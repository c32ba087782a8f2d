#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "exporters/common/delivery.h"
#include "exporters/common/destination.h"
#include "pipeline/component.h"

namespace grpc {
class Channel;
class CompletionQueue;
}  // namespace grpc

namespace sluice::exporters::otlp {

struct OtlpGrpcOptions {
  // host:port or http://host:port for plaintext, https://host:port for TLS.
  std::string endpoint;
  bool gzip = true;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as metadata
  std::string tenant_header = kDefaultTenantHeader;          // sent lower-cased
  net::TlsClientOptions tls;  // for https:// (insecure_skip_verify is refused)
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  uint64_t max_request_bytes = 1ull << 20;
  RetryOptions retry_on_failure;
  QueueOptions sending_queue;
  DeadLetterOptions dead_letter;
  log::StartAt start_at = log::StartAt::kOldest;
};

const config::Schema<OtlpGrpcOptions>& OtlpGrpcOptionsSchema();

// The full gRPC method name of a signal's Export call.
const char* ExportMethod(log::Signal signal);

// How an OTLP/gRPC status maps to a retry decision (OTLP specification):
// CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and
// DATA_LOSS are retryable; RESOURCE_EXHAUSTED only when the server sent
// RetryInfo; everything else is permanent. `details` is the serialized
// google.rpc.Status of the error, whose RetryInfo sets the wait.
pipeline::SendResult ClassifyGrpc(int code, const std::string& message, const std::string& details);

// Sends over one HTTP/2 channel of its own, made on first use (TLS for an
// https:// endpoint).
class OtlpGrpcSender final : public pipeline::Sender {
 public:
  explicit OtlpGrpcSender(const OtlpGrpcOptions& options);
  ~OtlpGrpcSender() override;
  pipeline::SendResult Send(const pipeline::OutboundRequest& request) override;

 private:
  Status Connect();

  // A copy: a sender may outlive the options it was made from (a factory's
  // captured copy, a parsed configuration), whatever order owners declare
  // them in.
  const OtlpGrpcOptions options_;
  std::vector<std::pair<std::string, std::string>> metadata_;  // names lower-cased
  struct Stub;  // the generic stub, kept out of this header
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  std::unique_ptr<grpc::CompletionQueue> cq_;
};

pipeline::ComponentType OtlpGrpcExporterType();

}  // namespace sluice::exporters::otlp
