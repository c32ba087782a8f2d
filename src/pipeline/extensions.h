#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/schema.h"
#include "net/http_server.h"
#include "telemetry/health.h"

namespace sluice::pipeline {

// The OpenTelemetry Collector's extensions a configuration may name
// (`extensions:` and `service.extensions`), so Collector configurations
// load: `health_check` is served (on the admin port's /healthz, or on its
// own endpoint when one is set), `pprof` and `zpages` are accepted and the
// start-up log says what to use instead.
enum class ExtensionType { kHealthCheck, kPprof, kZpages };

struct HealthCheckOptions {
  std::string endpoint;  // "": the admin port's /healthz answers
  std::string path = "/";
  std::string healthy_body;
  std::string unhealthy_body;
};

struct ExtensionConfig {
  std::string id;  // "health_check" or "health_check/2"
  ExtensionType type = ExtensionType::kHealthCheck;
  HealthCheckOptions health_check;
  config::Location where;
  bool enabled = false;  // listed in service.extensions
};

// Parses the top-level `extensions:` map and `service.extensions` (which
// names the ones that run). Unknown types and keys, and a listed extension
// that is not defined, are errors at their place.
void ParseExtensions(const YAML::Node& defined, const YAML::Node& listed, config::Context& ctx,
                     std::vector<ExtensionConfig>* out);

// The documentation of the extensions, for `sluice validate --reference`.
std::string ExtensionsReference();

// health_check on its own endpoint: GET `path` answers 200
// {"status":"Server available"} while every component is ready, 503
// {"status":"Server not available"} otherwise (or the configured bodies).
class HealthCheckHandler final : public net::HttpHandler {
 public:
  HealthCheckHandler(const HealthCheckOptions& options, telemetry::Health& health)
      : options_(options), health_(health) {}
  void Handle(net::HttpRequest&& request, net::Responder respond) override;

 private:
  HealthCheckOptions options_;
  telemetry::Health& health_;
};

}  // namespace sluice::pipeline
