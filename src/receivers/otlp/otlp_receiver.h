#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "pipeline/component.h"
#include "receivers/otlp/grpc_server.h"

namespace sluice::receivers::otlp {

struct AuthOptions {
  // When set, requests must carry "Authorization: Bearer <token>".
  std::string bearer_token;
};

struct HttpOptions {
  std::string endpoint = "127.0.0.1:4318";
  uint64_t max_request_body_size = 16ull << 20;
  std::string traces_url_path = "/v1/traces";
  std::string metrics_url_path = "/v1/metrics";
  std::string logs_url_path = "/v1/logs";
  AuthOptions auth;
  std::chrono::nanoseconds read_header_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds read_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(10);
  int64_t max_connections = 10000;
  std::string tenant_header = "X-Scope-OrgID";
  std::optional<net::TlsFiles> tls;  // HTTPS when set
};

struct Protocols {
  std::optional<GrpcOptions> grpc;
  std::optional<HttpOptions> http;
};

struct OtlpOptions {
  Protocols protocols;
};

const config::Schema<OtlpOptions>& OtlpOptionsSchema();

// The `otlp` receiver type's registration record.
pipeline::ComponentType OtlpReceiverType();

}  // namespace sluice::receivers::otlp
