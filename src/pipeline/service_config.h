#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/logging.h"
#include "config/schema.h"
#include "log/options.h"
#include "pipeline/component.h"
#include "pipeline/extensions.h"

namespace sluice::pipeline {

// service.telemetry
struct TelemetryOptions {
  struct Logs {
    logging::Level level = logging::Level::kInfo;
    logging::Format encoding = logging::Format::kLogfmt;
  } logs;
  struct RateLimit {
    int64_t requests_per_second = 50;
    int64_t burst = 100;
  };
  // service.telemetry.metrics.auth: the credentials every admin request but
  // the probes (GET /healthz, /readyz) must carry. Either, both or neither.
  struct Auth {
    struct Basic {
      std::string username;  // never contains ':' (RFC 7617)
      std::string password;
    };
    std::optional<std::string> bearer_token;  // never empty when set
    std::optional<Basic> basic;
    bool enabled() const { return bearer_token.has_value() || basic.has_value(); }
  };
  struct Metrics {
    std::string address = "127.0.0.1:8888";
    RateLimit rate_limit;
    Auth auth;
    // Serving a non-loopback address without auth must be asked for.
    bool allow_unauthenticated = false;
  } metrics;
};

// service, other than its pipelines
struct ServiceOptions {
  TelemetryOptions telemetry;
  std::chrono::nanoseconds shutdown_grace = std::chrono::seconds(30);
  int64_t io_threads = 0;  // 0: one per core, at most 4
  uint64_t max_in_flight_bytes = 256ull << 20;
};

struct ComponentConfig {
  std::string id;  // "otlp/2"
  const ComponentType* type = nullptr;
  std::shared_ptr<const void> options;
  config::Location where;
};

struct ModuleConfig {
  const ModuleType* type = nullptr;
  std::shared_ptr<const void> options;
};

struct PipelineConfig {
  std::string name;  // "traces" or "traces/b"
  log::Signal signal = log::Signal::kTraces;
  std::vector<std::string> receivers;
  std::vector<std::string> processors;
  std::vector<std::string> exporters;
  config::Location where;
};

// A whole configuration file, validated.
struct ServiceConfig {
  std::string source;
  log::LogOptions storage;
  ServiceOptions service;
  std::vector<ComponentConfig> receivers;
  std::vector<ComponentConfig> processors;
  std::vector<ComponentConfig> exporters;
  std::vector<ComponentConfig> connectors;
  std::vector<PipelineConfig> pipelines;
  std::vector<ExtensionConfig> extensions;
  std::vector<ModuleConfig> modules;  // one per module type of the catalog

  // Every pipeline, in the order configured.
  std::vector<PipelineRef> AllPipelines() const;
  const ComponentConfig* Find(Kind kind, const std::string& id) const;
  // The pipelines a component takes part in; for a connector, those it is an
  // exporter of (it reads them).
  std::vector<PipelineRef> PipelinesOf(Kind kind, const std::string& id) const;
  // The pipelines a connector is a receiver of (it feeds them).
  std::vector<PipelineRef> ConnectorOutputs(const std::string& id) const;
};

const config::Schema<ServiceOptions>& ServiceOptionsSchema();

// Validates `root` against the catalog. Every problem is recorded in ctx;
// the result is set only when there were none.
std::optional<ServiceConfig> ParseServiceConfig(const YAML::Node& root, config::Context& ctx,
                                                const Catalog& catalog);
// Loads a file (path) or, when path is empty, the embedded default.
std::optional<ServiceConfig> LoadServiceConfig(const std::string& path, config::Context& ctx,
                                               const Catalog& catalog);

// The configuration `sluice run` uses without --config.
const char* EmbeddedDefaultConfig();

}  // namespace sluice::pipeline
