#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/schema.h"
#include "net/http_client.h"
#include "relabel/relabel.h"

namespace sluice::receivers::prometheus {

// A static_configs entry: targets (host:port) and the labels they share.
struct TargetGroup {
  std::vector<std::string> targets;
  std::vector<std::pair<std::string, std::string>> labels;
  std::string source;  // where the group came from, for errors ("static_configs[0]")
};

struct FileSdConfig {
  std::vector<std::string> files;  // paths; the last component may hold * and ?
  std::chrono::nanoseconds refresh_interval = std::chrono::minutes(5);
};

struct HttpSdConfig {
  std::string url;
  std::chrono::nanoseconds refresh_interval = std::chrono::minutes(1);
  // For an https url (the system's CAs when absent).
  std::optional<net::TlsClientOptions> tls_config;
};

struct BasicAuth {
  std::string username;
  std::string password;  // or password_file
  std::string password_file;
};

struct Authorization {
  std::string type = "Bearer";
  std::string credentials;
  std::string credentials_file;
};

// Prometheus' scrape_config, the keys sluice takes (docs/collection.md);
// any other key is an error at its place.
struct ScrapeConfig {
  std::string job_name;
  std::chrono::nanoseconds scrape_interval{0};  // 0: the global one
  std::chrono::nanoseconds scrape_timeout{0};   // 0: the global one, at most the interval
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::vector<std::pair<std::string, std::vector<std::string>>> params;
  bool honor_labels = false;
  bool honor_timestamps = true;
  std::vector<TargetGroup> static_configs;
  std::vector<FileSdConfig> file_sd_configs;
  std::vector<HttpSdConfig> http_sd_configs;
  std::optional<BasicAuth> basic_auth;
  std::optional<Authorization> authorization;
  std::optional<net::TlsClientOptions> tls_config;
  std::vector<relabel::Rule> relabel_configs;
  std::vector<relabel::Rule> metric_relabel_configs;
  int64_t sample_limit = 0;  // 0: none
  // sluice's own: what a scrape past sample_limit does. kFail is
  // Prometheus' (the scrape fails, up = 0); kTruncate keeps the first
  // sample_limit samples and counts the rest.
  enum class LimitAction : uint8_t { kFail, kTruncate } sample_limit_action = LimitAction::kFail;
  int64_t label_limit = 0;
  int64_t label_name_length_limit = 0;
  int64_t label_value_length_limit = 0;
  uint64_t body_size_limit = 0;  // bytes, 0: none
  int64_t target_limit = 0;
};

struct GlobalConfig {
  std::chrono::nanoseconds scrape_interval = std::chrono::minutes(1);
  std::chrono::nanoseconds scrape_timeout{0};  // 0: 10s, or the interval if shorter
  std::vector<std::pair<std::string, std::string>> external_labels;
};

// The Collector's `prometheus` receiver options: `config` holds a
// Prometheus configuration's `global` and `scrape_configs`.
struct PrometheusOptions {
  GlobalConfig global;
  std::vector<ScrapeConfig> scrape_configs;
  // Keeps the targets whose labels (after relabel_configs) hash to `index`
  // modulo `count`: several instances with the same configuration share the
  // targets without talking to each other.
  struct Shard {
    int64_t count = 1;
    int64_t index = 0;
  } shard;
};

const config::Schema<PrometheusOptions>& PrometheusOptionsSchema();

// Every scrape config with its defaults filled from `global`.
void ApplyGlobal(PrometheusOptions* options);

}  // namespace sluice::receivers::prometheus
