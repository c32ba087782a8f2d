#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "net/http_server.h"
#include "pipeline/component.h"

namespace sluice::receivers::prometheus_remote_write {

struct RemoteWriteOptions {
  std::string endpoint = "127.0.0.1:9090";
  std::string path = "/api/v1/write";
  uint64_t max_request_body_size = 16ull << 20;
  std::chrono::nanoseconds read_header_timeout = std::chrono::seconds(10);
  std::chrono::nanoseconds read_timeout = std::chrono::seconds(30);
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(10);
  int64_t max_connections = 10000;
  std::string tenant_header = "X-Scope-OrgID";
  std::string bearer_token;
  std::optional<net::TlsFiles> tls;  // HTTPS when set
};

const config::Schema<RemoteWriteOptions>& RemoteWriteOptionsSchema();

// The `prometheus_remote_write` receiver type's registration record.
pipeline::ComponentType RemoteWriteReceiverType();

}  // namespace sluice::receivers::prometheus_remote_write
