#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "exporters/common/delivery.h"
#include "exporters/common/destination.h"
#include "exporters/common/otlp_requests.h"
#include "pipeline/component.h"
#include "wire/compression.h"

namespace sluice::exporters::otlphttp {

struct OtlpHttpOptions {
  // Base URL; signals go to <endpoint>/v1/traces, /v1/metrics, /v1/logs.
  std::string endpoint;
  // Full URLs that override the base for one signal.
  std::string traces_endpoint;
  std::string metrics_endpoint;
  std::string logs_endpoint;
  wire::Compression compression = wire::Compression::kGzip;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string tenant_header = kDefaultTenantHeader;
  net::TlsClientOptions tls;  // for https:// endpoints
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
  uint64_t max_request_bytes = 1ull << 20;
  RetryOptions retry_on_failure;
  QueueOptions sending_queue;
  DeadLetterOptions dead_letter;
  log::StartAt start_at = log::StartAt::kOldest;
};

const config::Schema<OtlpHttpOptions>& OtlpHttpOptionsSchema();

// The URL a signal is sent to under these options.
std::string SignalUrl(const OtlpHttpOptions& o, log::Signal signal);

// Sends requests with OTLP/HTTP protobuf semantics: 2xx is success (a
// partial_success counts its rejected items), 429/5xx and connection
// failures are retryable (honouring Retry-After), other answers permanent.
class OtlpHttpSender final : public pipeline::Sender {
 public:
  explicit OtlpHttpSender(const OtlpHttpOptions& options);
  pipeline::SendResult Send(const pipeline::OutboundRequest& request) override;

 private:
  // A copy: a sender may outlive the options it was made from (a factory's
  // captured copy, a parsed configuration), whatever order owners declare
  // them in.
  const OtlpHttpOptions options_;
  std::unique_ptr<net::HttpClient> clients_[3];  // per signal, made on first use
  std::string paths_[3];
  std::string compressed_;
};

pipeline::ComponentType OtlpHttpExporterType();

}  // namespace sluice::exporters::otlphttp
