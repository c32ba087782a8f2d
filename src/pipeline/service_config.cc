#include "pipeline/service_config.h"

#include <set>

#include "log/options_schema.h"
#include "net/endpoint.h"

namespace sluice::pipeline {

const char* EmbeddedDefaultConfig() {
  return R"(# sluice's embedded default: OTLP in for traces, metrics and logs, all
# kept in the log; span metrics and a service graph derived from the traces;
# the query API on the admin port.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
      http:
        endpoint: 127.0.0.1:4318
connectors:
  spanmetrics:
    histogram:
      exponential:
        max_size: 160
    metrics_flush_interval: 10s
  servicegraph:
    metrics_flush_interval: 10s
storage:
  directory: ./data
query:
  enabled: true
service:
  telemetry:
    metrics:
      address: 127.0.0.1:8888
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics, servicegraph]
    metrics:
      receivers: [otlp]
    logs:
      receivers: [otlp]
    metrics/derived:
      receivers: [spanmetrics, servicegraph]
)";
}

namespace {

bool HasControlCharacter(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

const config::Schema<ServiceOptions>& ServiceOptionsSchema() {
  static const config::Schema<ServiceOptions> schema = [] {
    config::Schema<TelemetryOptions::Logs> logs("service.telemetry.logs");
    logs.Enum<logging::Level>("level", &TelemetryOptions::Logs::level,
                              {{"debug", logging::Level::kDebug},
                               {"info", logging::Level::kInfo},
                               {"warn", logging::Level::kWarn},
                               {"error", logging::Level::kError}},
                              "Least severe level of sluice's own log lines that is written.")
        .Enum<logging::Format>(
            "encoding", &TelemetryOptions::Logs::encoding,
            {{"logfmt", logging::Format::kLogfmt}, {"json", logging::Format::kJson}},
            "Format of sluice's own log lines on stderr.");
    config::Schema<TelemetryOptions::RateLimit> rate("service.telemetry.metrics.rate_limit");
    rate.Int("requests_per_second", &TelemetryOptions::RateLimit::requests_per_second,
             "Sustained requests per second one client IP may make on the admin port.",
             {1, 1 << 20})
        .Int("burst", &TelemetryOptions::RateLimit::burst,
             "Requests one client IP may make at once on the admin port.", {1, 1 << 20});
    using Auth = TelemetryOptions::Auth;
    config::Schema<Auth::Basic> basic("service.telemetry.metrics.auth.basic");
    basic.String("username", &Auth::Basic::username, "User name admin requests must present.")
        .Required()
        .String("password", &Auth::Basic::password,
                "Password admin requests must present; write `${env:NAME}` to keep it out of "
                "the file.")
        .Required()
        .Check([](const Auth::Basic& b) -> std::string {
          if (b.username.empty()) return "username must not be empty";
          if (b.username.find(':') != std::string::npos) {
            return "username must not contain ':' (Basic credentials are user:password)";
          }
          if (b.password.empty()) {
            return "password must not be empty (is the environment variable it names set?)";
          }
          if (HasControlCharacter(b.username) || HasControlCharacter(b.password)) {
            return "username and password must not contain control characters";
          }
          return "";
        });
    config::Schema<Auth> auth("service.telemetry.metrics.auth");
    auth.Custom("bearer_token", "string", "unset",
                "Token admin requests may present as `Authorization: Bearer <token>`; usually "
                "`${env:SLUICE_ADMIN_TOKEN}`. With it or `basic` set, every admin request but "
                "GET /healthz and /readyz must present one, or is answered 401.",
                [](const YAML::Node& n, Auth* a, config::Context& ctx) {
                  std::string token;
                  if (!ctx.Scalar(n, &token)) return;
                  // The token itself never appears in an error message.
                  if (token.empty()) {
                    ctx.AddError(n,
                                 "service.telemetry.metrics.auth.bearer_token is empty (is the "
                                 "environment variable it names set?); remove the key to turn "
                                 "bearer authentication off");
                    return;
                  }
                  if (token.find(' ') != std::string::npos || HasControlCharacter(token)) {
                    ctx.AddError(n,
                                 "service.telemetry.metrics.auth.bearer_token must not contain "
                                 "spaces or control characters");
                    return;
                  }
                  a->bearer_token = std::move(token);
                })
        .OptionalObject("basic", &Auth::basic, basic,
                        "Credentials admin requests may present as `Authorization: Basic "
                        "<base64(username:password)>` (what a browser prompts for).");
    config::Schema<TelemetryOptions::Metrics> metrics("service.telemetry.metrics");
    metrics
        .String("address", &TelemetryOptions::Metrics::address,
                "host:port of the admin server (/metrics, /healthz, /readyz, the query API). "
                "An address other than loopback (127.0.0.0/8, ::1, localhost) requires `auth` "
                "or `allow_unauthenticated: true`.")
        .Object("rate_limit", &TelemetryOptions::Metrics::rate_limit, rate,
                "Per-client-IP limit on the admin port (never on ingest endpoints).")
        .Object("auth", &TelemetryOptions::Metrics::auth, auth,
                "When bearer_token or basic is set, every admin request except GET /healthz and "
                "/readyz must carry one of them, or is answered 401.")
        .Bool("allow_unauthenticated", &TelemetryOptions::Metrics::allow_unauthenticated,
              "DANGEROUS: serve a non-loopback address without `auth`, so that anyone who can "
              "reach the port reads every stored span and log record through the query API. "
              "Only behind a proxy that authenticates, or on a network you trust entirely.");
    config::Schema<TelemetryOptions> telemetry("service.telemetry");
    telemetry.Object("logs", &TelemetryOptions::logs, logs, "")
        .Object("metrics", &TelemetryOptions::metrics, metrics, "");
    config::Schema<ServiceOptions> s("service");
    s.Object("telemetry", &ServiceOptions::telemetry, telemetry, "")
        .Duration("shutdown_grace", &ServiceOptions::shutdown_grace,
                  "On SIGINT/SIGTERM, time allowed to finish in-flight requests and flush "
                  "before exiting anyway.",
                  {0, 3600e9L})
        .Int("io_threads", &ServiceOptions::io_threads,
             "Threads serving network I/O; 0 picks one per core, at most 4.", {0, 64})
        .Bytes("max_in_flight_bytes", &ServiceOptions::max_in_flight_bytes,
               "Most request bytes all receivers together hold until the log takes them; "
               "beyond it requests are refused with 503 and Retry-After (the memory limiter).",
               {1024.0L * 1024, 64.0L * 1024 * 1024 * 1024});
    return s;
  }();
  return schema;
}

const ComponentConfig* ServiceConfig::Find(Kind kind, const std::string& id) const {
  const auto& list = kind == Kind::kReceiver    ? receivers
                     : kind == Kind::kProcessor ? processors
                     : kind == Kind::kConnector ? connectors
                                                : exporters;
  for (const auto& c : list) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

std::vector<PipelineRef> ServiceConfig::PipelinesOf(Kind kind, const std::string& id) const {
  std::vector<PipelineRef> refs;
  for (const auto& p : pipelines) {
    const auto& ids = kind == Kind::kReceiver    ? p.receivers
                      : kind == Kind::kProcessor ? p.processors
                                                 : p.exporters;  // connectors: read pipelines
    for (const auto& x : ids) {
      if (x == id) refs.push_back(PipelineRef{p.name, p.signal, log::PipelineId(p.name)});
    }
  }
  return refs;
}

std::vector<PipelineRef> ServiceConfig::AllPipelines() const {
  std::vector<PipelineRef> refs;
  for (const auto& p : pipelines) {
    refs.push_back(PipelineRef{p.name, p.signal, log::PipelineId(p.name)});
  }
  return refs;
}

std::vector<PipelineRef> ServiceConfig::ConnectorOutputs(const std::string& id) const {
  std::vector<PipelineRef> refs;
  for (const auto& p : pipelines) {
    for (const auto& x : p.receivers) {
      if (x == id) refs.push_back(PipelineRef{p.name, p.signal, log::PipelineId(p.name)});
    }
  }
  return refs;
}

namespace {

bool ValidIdPart(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

void ParseComponents(const YAML::Node& section, Kind kind, config::Context& ctx,
                     const Catalog& catalog, std::vector<ComponentConfig>* out) {
  if (!section.IsDefined() || section.IsNull()) return;
  if (!section.IsMap()) {
    ctx.AddError(section, std::string(KindSection(kind)) + ": expected a map of component ids");
    return;
  }
  for (auto it = section.begin(); it != section.end(); ++it) {
    std::string id = it->first.Scalar();
    size_t slash = id.find('/');
    std::string type = id.substr(0, slash);
    if (!ValidIdPart(type) || (slash != std::string::npos && !ValidIdPart(id.substr(slash + 1)))) {
      ctx.AddError(it->first, "invalid " + std::string(KindName(kind)) + " id \"" + id +
                                  "\" (expected type or type/name)");
      continue;
    }
    const ComponentType* t = catalog.Find(kind, type);
    if (t == nullptr) {
      ctx.AddError(it->first, "unknown " + std::string(KindName(kind)) + " type \"" + type +
                                  "\"; known types: " + config::JoinChoices(catalog.Names(kind)));
      continue;
    }
    ComponentConfig c;
    c.id = id;
    c.type = t;
    c.where = ctx.Where(it->first);
    c.options = t->parse(it->second, ctx);
    out->push_back(std::move(c));
  }
}

std::vector<std::string> Ids(const std::vector<ComponentConfig>& list) {
  std::vector<std::string> ids;
  for (const auto& c : list) ids.push_back(c.id);
  return ids;
}

void ParsePipelineList(const YAML::Node& pipeline, const char* key, Kind kind,
                       const PipelineConfig& p, const std::vector<ComponentConfig>& defined,
                       const std::vector<ComponentConfig>& connectors, config::Context& ctx,
                       std::vector<std::string>* out) {
  const YAML::Node node = pipeline[key];
  if (!node.IsDefined()) return;
  if (!config::internal::ParseStringList(node, ctx, out)) return;
  std::set<std::string> seen;
  size_t i = 0;
  for (const auto& id : *out) {
    const YAML::Node item = node[i++];
    if (!seen.insert(id).second) {
      ctx.AddError(item, "pipeline " + p.name + ": " + std::string(KindName(kind)) + " \"" + id +
                             "\" is listed twice");
      continue;
    }
    const ComponentConfig* c = nullptr;
    for (const auto& d : defined) {
      if (d.id == id) c = &d;
    }
    if (c == nullptr && kind != Kind::kProcessor) {
      for (const auto& d : connectors) {
        if (d.id == id) c = &d;
      }
    }
    if (c == nullptr) {
      ctx.AddError(item, "pipeline " + p.name + ": " + std::string(KindName(kind)) + " \"" + id +
                             "\" is not defined under " + std::string(KindSection(kind)) +
                             "; defined: " + config::JoinChoices(Ids(defined)));
      continue;
    }
    bool supported = false;
    // A connector reads pipelines of its `signals` and feeds ones of its
    // output_signals.
    const auto& signals = c->type->kind == Kind::kConnector && kind == Kind::kReceiver
                              ? c->type->output_signals
                              : c->type->signals;
    for (log::Signal s : signals) supported = supported || s == p.signal;
    if (!supported) {
      std::string what = c->type->kind == Kind::kConnector
                             ? std::string("connector \"") + id + "\" as " +
                                   (kind == Kind::kReceiver ? "a receiver" : "an exporter")
                             : std::string(KindName(kind)) + " \"" + id + "\"";
      ctx.AddError(item, "pipeline " + p.name + ": " + what + " does not support " +
                             std::string(log::SignalName(p.signal)));
    }
  }
}

void ParsePipelines(const YAML::Node& node, config::Context& ctx, ServiceConfig* cfg) {
  if (!node.IsDefined() || node.IsNull()) {
    ctx.AddError(node, "service.pipelines: at least one pipeline is required");
    return;
  }
  if (!node.IsMap()) {
    ctx.AddError(node, "service.pipelines: expected a map of pipelines");
    return;
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    PipelineConfig p;
    p.name = it->first.Scalar();
    p.where = ctx.Where(it->first);
    std::string signal = p.name.substr(0, p.name.find('/'));
    if (signal == "traces") {
      p.signal = log::Signal::kTraces;
    } else if (signal == "metrics") {
      p.signal = log::Signal::kMetrics;
    } else if (signal == "logs") {
      p.signal = log::Signal::kLogs;
    } else {
      ctx.AddError(it->first, "pipeline \"" + p.name +
                                  "\": the name must start with traces, metrics or logs "
                                  "(optionally followed by /name)");
      continue;
    }
    const YAML::Node body = it->second;
    if (!body.IsMap()) {
      ctx.AddError(body, "pipeline " + p.name +
                             ": expected a map with receivers, processors, "
                             "exporters");
      continue;
    }
    for (auto k = body.begin(); k != body.end(); ++k) {
      std::string key = k->first.Scalar();
      if (key != "receivers" && key != "processors" && key != "exporters") {
        ctx.AddError(k->first, "pipeline " + p.name + ": unknown key \"" + key +
                                   "\"; valid keys: receivers, processors, exporters");
      }
    }
    ParsePipelineList(body, "receivers", Kind::kReceiver, p, cfg->receivers, cfg->connectors, ctx,
                      &p.receivers);
    ParsePipelineList(body, "processors", Kind::kProcessor, p, cfg->processors, {}, ctx,
                      &p.processors);
    ParsePipelineList(body, "exporters", Kind::kExporter, p, cfg->exporters, cfg->connectors, ctx,
                      &p.exporters);
    if (p.receivers.empty()) {
      ctx.AddError(it->first, "pipeline " + p.name + ": at least one receiver is required");
    }
    cfg->pipelines.push_back(std::move(p));
  }
}

// An admin port others can reach serves every stored span and log record
// (the query API) and the process's metrics: that takes credentials, or an
// explicit allow_unauthenticated. Called once the service options parsed
// cleanly, so telemetry and metrics are maps when present.
void CheckAdminExposure(const YAML::Node& service, const ServiceOptions& options,
                        config::Context& ctx) {
  const TelemetryOptions::Metrics& m = options.telemetry.metrics;
  const YAML::Node telemetry = service["telemetry"];
  // A missing key yields an invalid node, whose IsMap throws: IsDefined first.
  const YAML::Node absent(YAML::NodeType::Undefined);
  const YAML::Node metrics =
      telemetry.IsDefined() && telemetry.IsMap() ? telemetry["metrics"] : absent;
  const YAML::Node address = metrics.IsDefined() && metrics.IsMap() ? metrics["address"] : absent;
  Result<net::Endpoint> endpoint = net::Endpoint::Parse(m.address, net::EndpointForm::kHostPort);
  if (!endpoint.ok()) {
    if (address.IsDefined()) {
      ctx.AddError(address, "service.telemetry.metrics.address: " + endpoint.status().message());
    }
    return;
  }
  if (net::IsLoopbackHost(endpoint->host) || m.auth.enabled() || m.allow_unauthenticated) return;
  ctx.AddError(address.IsDefined() ? address : service,
               "service.telemetry.metrics.address: " + m.address +
                   " is not a loopback address and the admin port has no auth, so anyone who "
                   "can reach it would read /metrics and, through the query API, every stored "
                   "span and log record; configure service.telemetry.metrics.auth (bearer_token: "
                   "${env:SLUICE_ADMIN_TOKEN}, or basic: {username: ..., password: ...}), or set "
                   "service.telemetry.metrics.allow_unauthenticated: true to serve it without");
}

}  // namespace

std::optional<ServiceConfig> ParseServiceConfig(const YAML::Node& root, config::Context& ctx,
                                                const Catalog& catalog) {
  ServiceConfig cfg;
  if (!root.IsMap()) {
    ctx.AddError(root, "configuration must be a map with receivers, exporters, service, ...");
    return std::nullopt;
  }
  std::vector<std::string> kTopLevel = {"receivers",  "processors", "exporters", "connectors",
                                        "extensions", "storage",    "service"};
  for (const ModuleType& m : catalog.modules()) kTopLevel.push_back(m.key);
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string key = it->first.Scalar();
    if (std::find(kTopLevel.begin(), kTopLevel.end(), key) == kTopLevel.end()) {
      ctx.AddError(it->first, "unknown top-level key \"" + key +
                                  "\"; valid keys: " + config::JoinChoices(kTopLevel));
    }
  }
  ParseComponents(root["receivers"], Kind::kReceiver, ctx, catalog, &cfg.receivers);
  ParseComponents(root["processors"], Kind::kProcessor, ctx, catalog, &cfg.processors);
  ParseComponents(root["exporters"], Kind::kExporter, ctx, catalog, &cfg.exporters);
  ParseComponents(root["connectors"], Kind::kConnector, ctx, catalog, &cfg.connectors);
  log::LogOptionsSchema().Parse(root["storage"], &cfg.storage, ctx);
  for (const ModuleType& m : catalog.modules()) {
    cfg.modules.push_back(ModuleConfig{&m, m.parse(root[m.key], ctx)});
  }

  const YAML::Node service = root["service"];
  if (!service.IsDefined() || !service.IsMap()) {
    ctx.AddError(service.IsDefined() ? service : root,
                 "a service section with pipelines is required");
  } else {
    YAML::Node options(YAML::NodeType::Map);
    for (auto it = service.begin(); it != service.end(); ++it) {
      std::string key = it->first.Scalar();
      if (key != "pipelines" && key != "extensions") options[it->first] = it->second;
    }
    size_t errors_before = ctx.errors().size();
    ServiceOptionsSchema().Parse(options, &cfg.service, ctx);
    if (ctx.errors().size() == errors_before) CheckAdminExposure(service, cfg.service, ctx);
    ParsePipelines(service["pipelines"], ctx, &cfg);
    ParseExtensions(root["extensions"], service["extensions"], ctx, &cfg.extensions);
    // A connector joins two pipelines: it must be an exporter of one and a
    // receiver of another (the Collector's rule).
    for (const ComponentConfig& c : cfg.connectors) {
      bool read = !cfg.PipelinesOf(Kind::kConnector, c.id).empty();
      bool fed = !cfg.ConnectorOutputs(c.id).empty();
      if (read != fed) {
        ctx.AddError(c.where, "connector " + c.id + " is " +
                                  (read ? "an exporter of a pipeline but no pipeline's receiver"
                                        : "a receiver of a pipeline but no pipeline's exporter") +
                                  "; a connector joins two pipelines");
      }
    }
  }
  if (!ctx.ok()) return std::nullopt;
  return cfg;
}

std::optional<ServiceConfig> LoadServiceConfig(const std::string& path, config::Context& ctx,
                                               const Catalog& catalog) {
  std::optional<YAML::Node> root =
      path.empty() ? config::LoadString(EmbeddedDefaultConfig(), ctx) : config::LoadFile(path, ctx);
  if (!root) return std::nullopt;
  std::optional<ServiceConfig> cfg = ParseServiceConfig(*root, ctx, catalog);
  if (cfg) cfg->source = path.empty() ? "<embedded default>" : path;
  return cfg;
}

}  // namespace sluice::pipeline
