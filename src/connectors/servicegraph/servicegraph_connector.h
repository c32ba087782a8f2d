#pragma once

#include <absl/container/flat_hash_map.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/schema.h"
#include "log/cursors.h"
#include "pipeline/component.h"

namespace sluice::connectors::servicegraph {

// The OpenTelemetry Collector's `servicegraph` connector: requests between
// services, from client (or producer) spans paired with the server (or
// consumer) spans they called, into request, failure and latency metrics
// per edge. Checkpointed as spanmetrics is (docs/connectors.md).
struct StoreOptions {
  std::chrono::nanoseconds ttl = std::chrono::seconds(2);
  int64_t max_items = 1000;
};

struct ServiceGraphOptions {
  // Latency histogram bounds, in seconds (the Collector's defaults).
  std::vector<double> latency_histogram_buckets = {0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2,
                                                   0.4,   0.8,   1,     1.4,   2,    5,    10,  15};
  // Span attributes added to an edge as client_<name> and server_<name>.
  std::vector<std::string> dimensions;
  StoreOptions store;
  // Attributes of an unanswered client span that name the peer it called,
  // in order; the first found becomes a virtual server node.
  std::vector<std::string> virtual_node_peer_attributes = {"peer.service", "db.name", "db.system"};
  std::chrono::nanoseconds metrics_flush_interval = std::chrono::seconds(60);
  std::chrono::nanoseconds metrics_expiration = std::chrono::minutes(5);  // 0: never
  log::StartAt start_at = log::StartAt::kOldest;
  int64_t max_tenants = 100;  // besides the default tenant
};

const config::Schema<ServiceGraphOptions>& ServiceGraphOptionsSchema();
pipeline::ComponentType ServiceGraphConnectorType();

// The pairing store and the edges, apart from the log and the clock.
class Graph {
 public:
  explicit Graph(const ServiceGraphOptions& options) : options_(options) {}

  // One side of a request, from one span.
  struct Side {
    std::string service;
    double seconds = 0;
    bool failed = false;
    std::vector<std::pair<std::string, std::string>> dimensions;
    std::string peer;             // client: the virtual node it names, if any
    std::string connection_type;  // client: "database" for a db.* peer
    bool root = false;            // server: a span without a parent
  };
  struct Pending {
    std::optional<Side> client, server;
    int64_t created_unix_nano = 0;
    bool messaging = false;  // a producer/consumer pair
  };
  struct Edge {
    std::string client, server, connection_type;
    std::vector<std::pair<std::string, std::string>> dimensions;
    uint64_t requests = 0, failed = 0;
    std::vector<uint64_t> server_buckets, client_buckets;
    double server_sum = 0, client_sum = 0;
    uint64_t server_count = 0, client_count = 0;
    int64_t last_update_unix_nano = 0;
  };
  // Where a request's two sides meet: the trace id and the client span's id
  // (the client's own, the server's parent), zero-padded to 16 + 8 bytes.
  struct SpanKey {
    std::array<char, 24> bytes{};
    static SpanKey Of(std::string_view trace_id, std::string_view span_id);
    std::string_view view() const { return {bytes.data(), bytes.size()}; }
    bool operator==(const SpanKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const SpanKey& k) {
      uint64_t w[3];
      std::memcpy(w, k.bytes.data(), sizeof w);
      return H::combine(std::move(h), w[0], w[1], w[2]);
    }
  };
  struct Counts {
    uint64_t paired = 0, virtual_nodes = 0, expired = 0, dropped = 0;
  };

  // Adds the spans of an OTLP traces request.
  Status Add(std::string_view request, int64_t now_unix_nano);
  // Resolves requests waiting longer than store.ttl (virtual nodes for
  // unanswered calls to named peers, `user` for root server spans; the rest
  // expire), and drops edges idle past metrics_expiration.
  void Tick(int64_t now_unix_nano);
  std::string Encode(int64_t start_unix_nano, int64_t now_unix_nano, uint64_t* points) const;
  std::string Serialize() const;
  Status Deserialize(std::string_view bytes);

  const absl::flat_hash_map<std::string, Edge>& edges() const { return edges_; }
  size_t pending() const { return pending_.size(); }
  const Counts& counts() const { return counts_; }

 private:
  void Complete(const Pending& p, int64_t now);
  void Observe(const std::string& client, const std::string& server,
               const std::string& connection_type, const Side* client_side, const Side* server_side,
               int64_t now);
  size_t Bucket(double seconds) const;

  const ServiceGraphOptions options_;  // a copy: callers pass temporaries
  absl::flat_hash_map<SpanKey, Pending> pending_;
  absl::flat_hash_map<std::string, Edge> edges_;
  std::string edge_key_;  // the key being looked up, reused edge after edge
  int64_t last_edge_sweep_unix_nano_ = 0;
  int64_t last_store_sweep_unix_nano_ = 0;
  Counts counts_;
};

}  // namespace sluice::connectors::servicegraph
