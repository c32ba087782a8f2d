#pragma once

#include <vector>

#include "net/http_server.h"
#include "pipeline/component.h"
#include "pipeline/rate_limiter.h"
#include "telemetry/health.h"
#include "telemetry/metrics.h"

namespace sluice::pipeline {

// The admin port's routes:
//   GET /metrics  Prometheus text exposition of the registry
//   GET /healthz  200 while the process serves requests (liveness)
//   GET /readyz   200 when every component is ready, else 503 with JSON detail
// and the paths of the service's modules (the query API), which they answer.
// Every route is rate limited per client IP (429 with Retry-After beyond it);
// the ingest endpoints are separate servers and never limited this way.
class AdminHandler final : public net::HttpHandler {
 public:
  AdminHandler(telemetry::Registry& registry, telemetry::Health& health,
               PerClientRateLimiter& limiter, std::vector<Module*> modules = {})
      : registry_(registry),
        health_(health),
        limiter_(limiter),
        modules_(std::move(modules)),
        limited_(registry
                     .AddCounter("sluice_admin_rate_limited_total",
                                 "Admin requests refused by the per-client rate limiter.")
                     .Get()) {}
  void Handle(net::HttpRequest&& request, net::Responder respond) override;

 private:
  telemetry::Registry& registry_;
  telemetry::Health& health_;
  PerClientRateLimiter& limiter_;
  const std::vector<Module*> modules_;
  telemetry::Counter& limited_;
};

}  // namespace sluice::pipeline
