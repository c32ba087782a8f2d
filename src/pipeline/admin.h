#pragma once

#include "net/http_server.h"
#include "telemetry/health.h"
#include "telemetry/metrics.h"

namespace sluice::pipeline {

// The admin port's routes:
//   GET /metrics  Prometheus text exposition of the registry
//   GET /healthz  200 while the process serves requests (liveness)
//   GET /readyz   200 when every component is ready, else 503 with JSON detail
class AdminHandler final : public net::HttpHandler {
 public:
  AdminHandler(telemetry::Registry& registry, telemetry::Health& health)
      : registry_(registry), health_(health) {}
  void Handle(net::HttpRequest&& request, net::Responder respond) override;

 private:
  telemetry::Registry& registry_;
  telemetry::Health& health_;
};

}  // namespace sluice::pipeline
