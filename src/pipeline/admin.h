#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "net/http_server.h"
#include "pipeline/component.h"
#include "pipeline/rate_limiter.h"
#include "pipeline/service_config.h"
#include "telemetry/health.h"
#include "telemetry/metrics.h"

namespace sluice::pipeline {

// The admin port's routes:
//   GET /metrics  Prometheus text exposition of the registry
//   GET /healthz  200 while the process serves requests (liveness)
//   GET /readyz   200 when every component is ready, else 503 with JSON detail
// and the paths of the service's modules (the query API), which they answer.
//
// Every route is rate limited per client IP (429 with Retry-After beyond it);
// the ingest endpoints are separate servers and never limited this way.
//
// With `auth` configured (bearer token and/or basic credentials) every
// request but GET/HEAD /healthz and /readyz must carry them, or is answered
// 401 with a WWW-Authenticate challenge per configured scheme and a JSON
// {"error": ...}, counted in sluice_admin_unauthorized_total. Credentials are
// kept only as SHA-256 digests and compared in constant time.
//
// Every response carries X-Content-Type-Options: nosniff and, unless its
// handler set one, Cache-Control: no-store; Access-Control-* headers are
// removed (the admin port is never readable cross-origin).
//
// Thread-safety: Handle runs concurrently on the I/O threads; the handler is
// immutable after construction apart from its (thread-safe) counters.
class AdminHandler final : public net::HttpHandler {
 public:
  AdminHandler(telemetry::Registry& registry, telemetry::Health& health,
               PerClientRateLimiter& limiter, const TelemetryOptions::Auth& auth,
               std::vector<Module*> modules = {});
  void Handle(net::HttpRequest&& request, net::Responder respond) override;

 private:
  using Digest = std::array<unsigned char, 32>;  // SHA-256

  // "" when the request carries valid credentials, else why not.
  std::string Refusal(const net::HttpRequest& request) const;
  net::HttpResponse Unauthorized(const std::string& reason) const;

  telemetry::Registry& registry_;
  telemetry::Health& health_;
  PerClientRateLimiter& limiter_;
  const std::vector<Module*> modules_;
  const std::optional<Digest> bearer_;  // of the token
  const std::optional<Digest> basic_;   // of "username:password"
  telemetry::Counter& limited_;
  telemetry::Counter& unauthorized_;
};

}  // namespace sluice::pipeline
