#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "config/schema.h"
#include "pgmetrics/metrics.h"

namespace sluice::receivers::postgresql {

// A monitored database in pgwatch's sources.yaml shape (docs/collection.md).
struct Source {
  std::string name;
  std::string conn_str;  // a libpq connection string or URI
  std::string kind = "postgres";
  std::string preset_metrics;
  std::vector<std::pair<std::string, int64_t>> custom_metrics;  // metric → seconds
  // Used instead while the server is a standby, when set.
  std::string preset_metrics_standby;
  std::vector<std::pair<std::string, int64_t>> custom_metrics_standby;
  bool is_enabled = true;
  bool only_if_master = false;  // nothing but pg_up while a standby
  std::string group = "default";
  std::vector<std::pair<std::string, std::string>> custom_tags;
  // Seconds; the statement timeout of the source's metrics that set none
  // (0: the receiver's statement_timeout).
  int64_t stmt_timeout = 0;
  config::Location where;  // of the entry, for errors
};

const config::Schema<Source>& SourceSchema();

struct ReconnectOptions {
  std::chrono::nanoseconds initial_interval = std::chrono::seconds(1);
  std::chrono::nanoseconds max_interval = std::chrono::minutes(1);
};

struct PostgresqlOptions {
  std::vector<Source> sources;
  std::string sources_file;
  std::string metrics_file;
  std::string name_space = "pgwatch";  // `namespace`
  // Runs only the sources of these groups (all when empty): instances
  // share sources by group.
  std::vector<std::string> groups;
  std::chrono::nanoseconds connect_timeout = std::chrono::seconds(5);
  // A metric's statement_timeout_seconds when it has none.
  std::chrono::nanoseconds statement_timeout = std::chrono::seconds(5);
  ReconnectOptions reconnect;
};

const config::Schema<PostgresqlOptions>& PostgresqlOptionsSchema();

// One metric a source fetches, and how often.
struct Planned {
  const pgmetrics::Metric* metric;
  std::chrono::nanoseconds interval;
};

// A source resolved against the definitions: its metrics for each role.
struct SourcePlan {
  Source source;
  std::vector<Planned> primary;  // while a primary
  std::vector<Planned> standby;  // while a standby
  // The greatest common divisor of every interval above: the tick.
  std::chrono::nanoseconds tick{0};
};

// What the receiver runs: the definitions (built-in merged with
// metrics_file) and every enabled source of its groups, read from
// `sources` and `sources_file`. InvalidArgument naming file:line:column for
// a source that cannot run (unknown kind, preset or metric, a duplicate
// name, a bad interval) or a file that does not parse.
struct Plan {
  pgmetrics::Definitions definitions;
  std::vector<SourcePlan> sources;
};
Result<std::shared_ptr<const Plan>> MakePlan(const PostgresqlOptions& options);

// The wait before a source's next connection attempt after `failures`
// failures in a row (>= 1): initial_interval doubled per further failure,
// at most max_interval, drawn uniformly from the upper half of that, so
// sources that failed together come back spread over it.
std::chrono::nanoseconds ReconnectDelay(int failures, const ReconnectOptions& o,
                                        std::mt19937_64& rng);

// A metric's statement timeout on a source: the metric's own, else the
// source's stmt_timeout, else `fallback`.
int64_t StatementTimeoutMs(const pgmetrics::Metric& m, const Source& s,
                           std::chrono::nanoseconds fallback);
// The longest a tick of `p` can take: connecting, then every metric at its
// whole statement timeout, and a second.
std::chrono::nanoseconds TickBound(const SourcePlan& p, const PostgresqlOptions& o);

}  // namespace sluice::receivers::postgresql
