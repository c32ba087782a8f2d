#include "receivers/prometheus/scrape_config.h"

#include <set>

#include "net/endpoint.h"
#include "wire/prom/labels.h"

namespace sluice::receivers::prometheus {
namespace {

const config::Schema<TargetGroup>& TargetGroupSchema() {
  static const config::Schema<TargetGroup> s = [] {
    config::Schema<TargetGroup> g("static_config");
    g.StringList("targets", &TargetGroup::targets, "host:port of each target.")
        .StringMap("labels", &TargetGroup::labels, "Labels every target of the group gets.")
        .Check([](const TargetGroup& g) -> std::string {
          for (const auto& [name, value] : g.labels) {
            if (!wire::prom::ValidLabelName(name)) return "invalid label name \"" + name + "\"";
          }
          return "";
        });
    return g;
  }();
  return s;
}

const config::Schema<FileSdConfig>& FileSdSchema() {
  static const config::Schema<FileSdConfig> s = [] {
    config::Schema<FileSdConfig> f("file_sd_config");
    f.StringList("files", &FileSdConfig::files,
                 "Files of target groups (JSON or YAML); the last path component may hold * "
                 "and ? wildcards.")
        .Duration("refresh_interval", &FileSdConfig::refresh_interval,
                  "How often the files are read again (they are also read when they change).",
                  {1e9L, 86400e9L});
    return f;
  }();
  return s;
}

const config::Schema<net::TlsClientOptions>& TlsSchema() {
  static const config::Schema<net::TlsClientOptions> s = [] {
    config::Schema<net::TlsClientOptions> t("tls_config");
    t.String("ca_file", &net::TlsClientOptions::ca_file,
             "PEM file of the certificate authorities to trust (default: the system's).")
        .String("cert_file", &net::TlsClientOptions::cert_file, "Client certificate (PEM).")
        .String("key_file", &net::TlsClientOptions::key_file, "Client key (PEM).")
        .String("server_name", &net::TlsClientOptions::server_name_override,
                "Name the target's certificate must carry (default: the target's host).")
        .Bool("insecure_skip_verify", &net::TlsClientOptions::insecure_skip_verify,
              "Accept any certificate (for tests only).");
    return t;
  }();
  return s;
}

const config::Schema<HttpSdConfig>& HttpSdSchema() {
  static const config::Schema<HttpSdConfig> s = [] {
    config::Schema<HttpSdConfig> h("http_sd_config");
    h.String("url", &HttpSdConfig::url, "URL answering a JSON list of target groups.")
        .Required()
        .Duration("refresh_interval", &HttpSdConfig::refresh_interval,
                  "How often the URL is asked again.", {1e9L, 86400e9L})
        .OptionalObject("tls_config", &HttpSdConfig::tls_config, TlsSchema(),
                        "TLS for an https url (default: the system's CAs).");
    return h;
  }();
  return s;
}

const config::Schema<BasicAuth>& BasicAuthSchema() {
  static const config::Schema<BasicAuth> s = [] {
    config::Schema<BasicAuth> b("basic_auth");
    b.String("username", &BasicAuth::username, "User name.")
        .String("password", &BasicAuth::password, "Password (use ${env:VAR} to keep it out).")
        .String("password_file", &BasicAuth::password_file, "File holding the password.")
        .Check([](const BasicAuth& b) -> std::string {
          return !b.password.empty() && !b.password_file.empty()
                     ? "at most one of password and password_file"
                     : "";
        });
    return b;
  }();
  return s;
}

const config::Schema<Authorization>& AuthorizationSchema() {
  static const config::Schema<Authorization> s = [] {
    config::Schema<Authorization> a("authorization");
    a.String("type", &Authorization::type, "Scheme of the Authorization header.")
        .String("credentials", &Authorization::credentials, "Credentials sent after the type.")
        .String("credentials_file", &Authorization::credentials_file,
                "File holding the credentials.")
        .Check([](const Authorization& a) -> std::string {
          if (!a.credentials.empty() && !a.credentials_file.empty()) {
            return "at most one of credentials and credentials_file";
          }
          return a.type == "Basic" || a.type == "basic"
                     ? "type Basic is set with basic_auth instead"
                     : "";
        });
    return a;
  }();
  return s;
}

const config::Schema<ScrapeConfig>& ScrapeConfigSchema() {
  static const config::Schema<ScrapeConfig> s = [] {
    config::Schema<ScrapeConfig> c("scrape_config");
    c.String("job_name", &ScrapeConfig::job_name, "The `job` label of the targets.")
        .Required()
        .Duration("scrape_interval", &ScrapeConfig::scrape_interval,
                  "How often each target is scraped (default: global.scrape_interval).",
                  {0, 86400e9L})
        .Duration("scrape_timeout", &ScrapeConfig::scrape_timeout,
                  "Deadline of one scrape (default: global.scrape_timeout, at most the "
                  "interval).",
                  {0, 86400e9L})
        .String("metrics_path", &ScrapeConfig::metrics_path, "Path scraped on each target.")
        .Enum("scheme", &ScrapeConfig::scheme, {{"http", "http"}, {"https", "https"}},
              "http or https.")
        .Custom("params", "map of lists", "none", "URL query parameters sent with each scrape.",
                [](const YAML::Node& n, ScrapeConfig* c, config::Context& ctx) {
                  if (n.IsNull()) return;
                  if (!n.IsMap()) {
                    ctx.AddError(n, "expected a map of name: [values]");
                    return;
                  }
                  for (auto it = n.begin(); it != n.end(); ++it) {
                    std::vector<std::string> values;
                    const YAML::Node v = it->second;
                    if (!v.IsSequence()) {
                      ctx.AddError(v, "expected a list of values");
                      continue;
                    }
                    for (auto xi = v.begin(); xi != v.end(); ++xi) {
                      const YAML::Node x = *xi;
                      std::string s;
                      if (ctx.Scalar(x, &s)) values.push_back(std::move(s));
                    }
                    c->params.emplace_back(it->first.Scalar(), std::move(values));
                  }
                })
        .Bool("honor_labels", &ScrapeConfig::honor_labels,
              "On a clash, keep the scraped label (else it becomes exported_<name> and the "
              "target's label wins).")
        .Bool("honor_timestamps", &ScrapeConfig::honor_timestamps,
              "Keep the timestamps the target exposes (else the scrape's time).");
    c.ObjectList("static_configs", &ScrapeConfig::static_configs, TargetGroupSchema(),
                 "Fixed targets and their labels.");
    c.ObjectList("file_sd_configs", &ScrapeConfig::file_sd_configs, FileSdSchema(),
                 "Target groups read from files, read again when they change.");
    c.ObjectList("http_sd_configs", &ScrapeConfig::http_sd_configs, HttpSdSchema(),
                 "Target groups asked from a URL.");
    c.OptionalObject("basic_auth", &ScrapeConfig::basic_auth, BasicAuthSchema(),
                     "HTTP basic authentication with each scrape.")
        .OptionalObject("authorization", &ScrapeConfig::authorization, AuthorizationSchema(),
                        "An Authorization header with each scrape.")
        .OptionalObject("tls_config", &ScrapeConfig::tls_config, TlsSchema(),
                        "TLS for https targets.")
        .Custom("relabel_configs", "list", "none",
                "Relabelling of the targets before scraping (Prometheus' rules).",
                [](const YAML::Node& n, ScrapeConfig* c, config::Context& ctx) {
                  relabel::ParseRules(n, ctx, &c->relabel_configs);
                })
        .Custom("metric_relabel_configs", "list", "none",
                "Relabelling of each scraped sample before it is stored.",
                [](const YAML::Node& n, ScrapeConfig* c, config::Context& ctx) {
                  relabel::ParseRules(n, ctx, &c->metric_relabel_configs);
                })
        .Int("sample_limit", &ScrapeConfig::sample_limit,
             "Samples per scrape after metric relabelling at most (0: none); see "
             "sample_limit_action.",
             {0, 1e12})
        .Enum("sample_limit_action", &ScrapeConfig::sample_limit_action,
              {{"fail", ScrapeConfig::LimitAction::kFail},
               {"truncate", ScrapeConfig::LimitAction::kTruncate}},
              "Past sample_limit: fail the whole scrape (Prometheus), or keep the first "
              "sample_limit samples and count the rest.")
        .Int("label_limit", &ScrapeConfig::label_limit,
             "Labels per sample at most, else the scrape fails (0: none).", {0, 1e6})
        .Int("label_name_length_limit", &ScrapeConfig::label_name_length_limit,
             "Longest label name, else the scrape fails (0: none).", {0, 1e9})
        .Int("label_value_length_limit", &ScrapeConfig::label_value_length_limit,
             "Longest label value, else the scrape fails (0: none).", {0, 1e9})
        .Bytes("body_size_limit", &ScrapeConfig::body_size_limit,
               "Largest uncompressed body, else the scrape fails (0: none).")
        .Int("target_limit", &ScrapeConfig::target_limit,
             "Targets after relabelling at most, else none of the job's is scraped (0: none).",
             {0, 1e9})
        .Check([](const ScrapeConfig& c) -> std::string {
          if (c.basic_auth && c.authorization) {
            return "at most one of basic_auth and authorization";
          }
          if (c.scrape_interval.count() > 0 && c.scrape_timeout > c.scrape_interval) {
            return "scrape_timeout is greater than scrape_interval";
          }
          if ((c.scrape_interval.count() > 0 && c.scrape_interval < std::chrono::milliseconds(1)) ||
              (c.scrape_timeout.count() > 0 && c.scrape_timeout < std::chrono::milliseconds(1))) {
            return "scrape_interval and scrape_timeout are at least 1ms";
          }
          for (const HttpSdConfig& sd : c.http_sd_configs) {
            Result<net::Endpoint> e = net::Endpoint::Parse(sd.url, net::EndpointForm::kUrl);
            if (!e.ok()) return "http_sd_configs url: " + e.status().message();
          }
          return "";
        });
    return c;
  }();
  return s;
}

const config::Schema<GlobalConfig>& GlobalSchema() {
  static const config::Schema<GlobalConfig> s = [] {
    config::Schema<GlobalConfig> g("global");
    g.Duration("scrape_interval", &GlobalConfig::scrape_interval,
               "Default scrape interval of every job.", {1e6L, 86400e9L})
        .Duration("scrape_timeout", &GlobalConfig::scrape_timeout,
                  "Default scrape deadline of every job (unset: 10s, or the interval if that "
                  "is shorter).",
                  {1e6L, 86400e9L})
        .StringMap("external_labels", &GlobalConfig::external_labels,
                   "Labels added to every scraped sample that does not have them.")
        .Check([](const GlobalConfig& g) -> std::string {
          if (g.scrape_timeout.count() > 0 && g.scrape_timeout > g.scrape_interval) {
            return "scrape_timeout is greater than scrape_interval";
          }
          for (const auto& [name, value] : g.external_labels) {
            if (!wire::prom::ValidLabelName(name) || name == "__name__") {
              return "external_labels: invalid label name \"" + name + "\"";
            }
            if (value.empty()) return "external_labels: label \"" + name + "\" has no value";
          }
          return "";
        });
    return g;
  }();
  return s;
}

struct PrometheusConfig {
  GlobalConfig global;
  std::vector<ScrapeConfig> scrape_configs;
};

const config::Schema<PrometheusConfig>& ConfigSchema() {
  static const config::Schema<PrometheusConfig> s = [] {
    config::Schema<PrometheusConfig> c("prometheus.config");
    c.Object("global", &PrometheusConfig::global, GlobalSchema(), "Prometheus' global section.");
    c.ObjectList("scrape_configs", &PrometheusConfig::scrape_configs, ScrapeConfigSchema(),
                 "Prometheus' scrape_configs (docs/collection.md lists the keys taken).");
    c.Check([](const PrometheusConfig& c) -> std::string {
      std::set<std::string> names;
      for (const ScrapeConfig& sc : c.scrape_configs) {
        if (!names.insert(sc.job_name).second) {
          return "job_name \"" + sc.job_name + "\" is used twice";
        }
      }
      return "";
    });
    return c;
  }();
  return s;
}

const config::Schema<PrometheusOptions::Shard>& ShardSchema() {
  static const config::Schema<PrometheusOptions::Shard> s = [] {
    config::Schema<PrometheusOptions::Shard> h("shard");
    h.Int("count", &PrometheusOptions::Shard::count, "Instances sharing the targets.", {1, 1e6})
        .Int("index", &PrometheusOptions::Shard::index, "This instance's shard, 0 to count-1.",
             {0, 1e6})
        .Check([](const PrometheusOptions::Shard& s) -> std::string {
          return s.index < s.count ? "" : "index must be below count";
        });
    return h;
  }();
  return s;
}

}  // namespace

void ApplyGlobal(PrometheusOptions* o) {
  if (o->global.scrape_timeout.count() == 0) {
    o->global.scrape_timeout =
        std::min<std::chrono::nanoseconds>(std::chrono::seconds(10), o->global.scrape_interval);
  }
  for (ScrapeConfig& c : o->scrape_configs) {
    if (c.scrape_interval.count() == 0) c.scrape_interval = o->global.scrape_interval;
    if (c.scrape_timeout.count() == 0) {
      c.scrape_timeout = std::min(o->global.scrape_timeout, c.scrape_interval);
    }
  }
}

const config::Schema<PrometheusOptions>& PrometheusOptionsSchema() {
  static const config::Schema<PrometheusOptions> schema = [] {
    config::Schema<PrometheusOptions> s("prometheus");
    s.Custom("config", "map", "(required)",
             "A Prometheus configuration: `global` and `scrape_configs`.",
             [](const YAML::Node& n, PrometheusOptions* o, config::Context& ctx) {
               PrometheusConfig c;
               ConfigSchema().Parse(n, &c, ctx);
               o->global = std::move(c.global);
               o->scrape_configs = std::move(c.scrape_configs);
               ApplyGlobal(o);
               for (const ScrapeConfig& sc : o->scrape_configs) {
                 if (sc.scrape_timeout > sc.scrape_interval) {
                   ctx.AddError(n, "job " + sc.job_name + ": scrape_timeout " +
                                       config::FormatDurationText(sc.scrape_timeout) +
                                       " is greater than its scrape_interval " +
                                       config::FormatDurationText(sc.scrape_interval));
                 }
               }
             })
        .Required()
        .Object("shard", &PrometheusOptions::shard, ShardSchema(),
                "Sharding of the targets across instances (docs/collection.md).");
    return s;
  }();
  return schema;
}

}  // namespace sluice::receivers::prometheus
