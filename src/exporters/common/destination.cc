#include "exporters/common/destination.h"

#include <chrono>

namespace sluice::exporters {

const config::Schema<net::TlsClientOptions>& TlsClientOptionsSchema() {
  static const config::Schema<net::TlsClientOptions> schema = [] {
    config::Schema<net::TlsClientOptions> s("tls");
    s.String("ca_file", &net::TlsClientOptions::ca_file,
             "PEM file of the certificate authorities to trust (default: the system's).")
        .String("cert_file", &net::TlsClientOptions::cert_file,
                "Client certificate chain (PEM) for mutual TLS; needs key_file.")
        .String("key_file", &net::TlsClientOptions::key_file, "Key of cert_file (PEM).")
        .String("server_name_override", &net::TlsClientOptions::server_name_override,
                "Name to expect in the server's certificate and send as SNI (default: the "
                "endpoint's host).")
        .Bool("insecure_skip_verify", &net::TlsClientOptions::insecure_skip_verify,
              "Accept any server certificate (for tests only).")
        .Check([](const net::TlsClientOptions& o) -> std::string {
          if (o.cert_file.empty() != o.key_file.empty()) {
            return "cert_file and key_file go together";
          }
          return "";
        });
    return s;
  }();
  return schema;
}

void AddTenantHeader(const std::string& header, const net::Headers& configured,
                     const std::string& tenant, net::Headers* extra) {
  if (tenant.empty() || header.empty() || net::HasHeader(configured, header)) return;
  extra->emplace_back(header, tenant);
}

pipeline::SendResult ClassifyHttp(const Result<net::HttpReply>& reply, std::string_view what) {
  if (!reply.ok()) return pipeline::SendResult::Retryable(reply.status().message());
  int code = reply->status;
  if (code >= 200 && code < 300) return pipeline::SendResult::Ok();
  std::string body = reply->body.substr(0, 256);
  std::string reason =
      std::string(what) + " answered " + std::to_string(code) + (body.empty() ? "" : ": " + body);
  if (code == 429 || code >= 500) {
    return pipeline::SendResult::Retryable(
        std::move(reason),
        net::ParseRetryAfter(reply->retry_after, std::chrono::system_clock::now()));
  }
  return pipeline::SendResult::Permanent(std::move(reason));
}

}  // namespace sluice::exporters
