#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace sluice::loadgen {

enum class Protocol { kHttp, kGrpc };

struct Options {
  Protocol protocol = Protocol::kHttp;
  std::string endpoint;  // default: 127.0.0.1:4318 (http) or 127.0.0.1:4317 (grpc)
  int services = 200;
  double spans_per_second = 50;   // per service
  double logs_per_second = 0;     // per service
  double metrics_per_second = 0;  // data points per service
  std::chrono::nanoseconds duration = std::chrono::seconds(60);
  std::chrono::nanoseconds ramp = std::chrono::seconds(10);
  std::chrono::nanoseconds flush_interval = std::chrono::seconds(1);  // per-service export period
  int connections = 16;
  int max_retries = 5;
  uint64_t seed = 1;
  bool progress = true;
  // Root span names (routes) per service: 0 picks 3 of six common routes;
  // N > 0 gives each service its own N ("/api/v1/op-<k>").
  int operations = 0;
  // The fraction of root spans named after a route never used before
  // ("/api/v1/item/<n>"): span-name churn, which drives span metrics'
  // series count up until their cardinality limit engages.
  double name_churn = 0;
  // "shop": instead of independent services, whole traces through a fixed
  // service topology (TopologyEdges), `spans_per_second` traces per second;
  // `services` is then ignored.
  std::string topology;
};

// The calls of the "shop" topology, each "client->server" with its error
// rate: frontend's root server span (called by `user`), frontend -> checkout
// and -> recommendation (an uninstrumented peer named by peer.service),
// checkout -> payments and -> cart (a database named by db.name, db.system
// postgresql), payments -> notifier (a Kafka producer/consumer pair). A
// failed call marks its client and server span ERROR; nothing else does.
// Nine spans per trace.
struct TopologyEdge {
  const char* edge;
  double error_rate;
};
const std::vector<TopologyEdge>& TopologyEdges();

struct EdgeCount {
  uint64_t calls = 0;
  uint64_t errors = 0;
};

struct Summary {
  uint64_t requests = 0;
  uint64_t sent_items = 0;
  uint64_t accepted_items = 0;
  uint64_t refused_items = 0;  // rejected as invalid or dropped after retries
  uint64_t retried_requests = 0;
  uint64_t failed_requests = 0;  // transport errors after retries
  double p50_ms = 0;
  double p99_ms = 0;
  double seconds = 0;
  // With a topology: the calls and errors of every trace that was accepted
  // whole, per "client->server" edge, and spans per "service span-name".
  std::map<std::string, EdgeCount> edges;
};

// Simulates `services` services, each with its own random stream, sending
// traces (root spans with children, realistic attributes, 5% errors), and
// optionally logs and metrics, to an OTLP endpoint. Services start linearly
// over `ramp`. Stops at `duration` or when `*stop` becomes true, then sends
// what is queued and returns the totals.
Result<Summary> Run(const Options& options, const std::atomic<bool>& stop);

std::string FormatSummary(const Summary& s);

}  // namespace sluice::loadgen
