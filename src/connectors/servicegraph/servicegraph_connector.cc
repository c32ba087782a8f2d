#include "connectors/servicegraph/servicegraph_connector.h"

#include <algorithm>
#include <cstring>

#include "connectors/common/checkpointed.h"
#include "connectors/common/encode.h"
#include "wire/otlp/common.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/metrics.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::connectors::servicegraph {
namespace {

namespace of = wire::otlp::field;

constexpr int kKindServer = 2, kKindClient = 3, kKindProducer = 4, kKindConsumer = 5;
constexpr uint64_t kStatusError = 2;

// An edge's key: client, server and type, then each dimension as
// \x1f key \x1e value.
void AppendDimension(std::string* key, std::string_view prefix, std::string_view k,
                     std::string_view v) {
  key->push_back('\x1f');
  key->append(prefix);
  key->append(k);
  key->push_back('\x1e');
  key->append(v);
}

void EdgeKeyInto(std::string_view client, std::string_view server, std::string_view type,
                 std::string* key) {
  key->assign(client);
  key->push_back('\x1f');
  key->append(server);
  key->push_back('\x1f');
  key->append(type);
}

std::string EdgeKey(const std::string& client, const std::string& server, const std::string& type,
                    const std::vector<std::pair<std::string, std::string>>& dims) {
  std::string key;
  EdgeKeyInto(client, server, type, &key);
  for (const auto& [k, v] : dims) AppendDimension(&key, "", k, v);
  return key;
}

}  // namespace

size_t Graph::Bucket(double seconds) const {
  const auto& b = options_.latency_histogram_buckets;
  return static_cast<size_t>(std::lower_bound(b.begin(), b.end(), seconds) - b.begin());
}

Graph::SpanKey Graph::SpanKey::Of(std::string_view trace_id, std::string_view span_id) {
  SpanKey k;
  // An empty id (a root span's parent) may have no data pointer at all.
  if (!trace_id.empty()) {
    std::memcpy(k.bytes.data(), trace_id.data(), std::min<size_t>(trace_id.size(), 16));
  }
  if (!span_id.empty()) {
    std::memcpy(k.bytes.data() + 16, span_id.data(), std::min<size_t>(span_id.size(), 8));
  }
  return k;
}

// The key is written into one reused buffer and looked up without a copy;
// an edge's dimensions are copied only when it is first seen.
void Graph::Observe(const std::string& client, const std::string& server,
                    const std::string& connection_type, const Side* client_side,
                    const Side* server_side, int64_t now) {
  EdgeKeyInto(client, server, connection_type, &edge_key_);
  if (client_side != nullptr) {
    for (const auto& [k, v] : client_side->dimensions) AppendDimension(&edge_key_, "client_", k, v);
  }
  if (server_side != nullptr) {
    for (const auto& [k, v] : server_side->dimensions) AppendDimension(&edge_key_, "server_", k, v);
  }
  auto it = edges_.find(edge_key_);
  if (it == edges_.end()) {
    Edge e;
    e.client = client;
    e.server = server;
    e.connection_type = connection_type;
    if (client_side != nullptr) {
      for (const auto& [k, v] : client_side->dimensions)
        e.dimensions.emplace_back("client_" + k, v);
    }
    if (server_side != nullptr) {
      for (const auto& [k, v] : server_side->dimensions)
        e.dimensions.emplace_back("server_" + k, v);
    }
    e.server_buckets.assign(options_.latency_histogram_buckets.size() + 1, 0);
    e.client_buckets.assign(options_.latency_histogram_buckets.size() + 1, 0);
    it = edges_.emplace(edge_key_, std::move(e)).first;
  }
  Edge& e = it->second;
  ++e.requests;
  bool failed = (client_side != nullptr && client_side->failed) ||
                (server_side != nullptr && server_side->failed);
  e.failed += failed ? 1 : 0;
  if (server_side != nullptr) {
    ++e.server_buckets[Bucket(server_side->seconds)];
    e.server_sum += server_side->seconds;
    ++e.server_count;
  }
  if (client_side != nullptr) {
    ++e.client_buckets[Bucket(client_side->seconds)];
    e.client_sum += client_side->seconds;
    ++e.client_count;
  }
  e.last_update_unix_nano = now;
}

void Graph::Complete(const Pending& p, int64_t now) {
  static const std::string kMessaging = "messaging_system", kNone;
  Observe(p.client->service, p.server->service, p.messaging ? kMessaging : kNone, &*p.client,
          &*p.server, now);
  ++counts_.paired;
}

Status Graph::Add(std::string_view request, int64_t now) {
  // The service name, read once per resource.
  const char* resource_seen = nullptr;
  std::string service;
  return wire::otlp::ForEachLeaf(
      request, [&](std::string_view resource, std::string_view, std::string_view leaf) -> Status {
        wire::otlp::SpanView span;
        SLUICE_RETURN_IF_ERROR(wire::otlp::ViewSpan(leaf, &span));
        bool client = span.kind == kKindClient || span.kind == kKindProducer;
        bool server = span.kind == kKindServer || span.kind == kKindConsumer;
        if (!client && !server) return Status::Ok();
        std::string_view v;
        if (resource.data() != resource_seen || resource_seen == nullptr) {
          resource_seen = resource.data();
          service = wire::otlp::ServiceName(resource);
        }
        Side side;
        side.service = service;
        uint64_t ns = span.end_time_unix_nano > span.start_time_unix_nano
                          ? span.end_time_unix_nano - span.start_time_unix_nano
                          : 0;
        side.seconds = static_cast<double>(ns) * 1e-9;
        side.failed = wire::LastVarintField(span.status, of::kStatusCode) == kStatusError;
        for (const std::string& d : options_.dimensions) {
          if (wire::otlp::FindAttribute(leaf, of::kSpanAttributes, d, &v) ||
              wire::otlp::FindAttribute(resource, of::kResourceAttributes, d, &v)) {
            side.dimensions.emplace_back(d, wire::otlp::AnyValueText(v));
          }
        }
        SpanKey key;
        if (client) {
          key = SpanKey::Of(span.trace_id, span.span_id);
          // The first of the peer attributes the span has, in one pass over
          // its attributes.
          const auto& peers = options_.virtual_node_peer_attributes;
          size_t best = peers.size();
          std::string_view best_value;
          wire::ProtoReader r(leaf);
          while (r.Next() && best > 0) {
            if (r.field() != of::kSpanAttributes || !r.Is(wire::WireType::kLengthDelimited)) {
              continue;
            }
            std::string_view k, value;
            wire::ProtoReader kv(r.bytes());
            while (kv.Next()) {
              if (kv.field() == of::kKeyValueKey) k = kv.bytes();
              if (kv.field() == of::kKeyValueValue) value = kv.bytes();
            }
            for (size_t i = 0; i < best; ++i) {
              if (peers[i] == k) {
                best = i;
                best_value = value;
                break;
              }
            }
          }
          if (best < peers.size()) {
            side.peer = wire::otlp::AnyValueText(best_value);
            if (peers[best].starts_with("db.")) side.connection_type = "database";
          }
        } else {
          if (span.parent_span_id.empty()) side.root = true;
          key = SpanKey::Of(span.trace_id, span.parent_span_id);
        }
        auto it = pending_.find(key);
        if (it != pending_.end()) {
          Pending& p = it->second;
          if (client && !p.client && p.server) {
            p.client = std::move(side);
          } else if (server && !p.server && p.client) {
            p.server = std::move(side);
          }
          if (p.client && p.server) {
            p.messaging |= span.kind == kKindProducer || span.kind == kKindConsumer;
            Complete(p, now);
            pending_.erase(it);
          }
          return Status::Ok();
        }
        if (static_cast<int64_t>(pending_.size()) >= options_.store.max_items) {
          ++counts_.dropped;  // the store is full: this side is not paired
          return Status::Ok();
        }
        Pending p;
        p.created_unix_nano = now;
        p.messaging = span.kind == kKindProducer || span.kind == kKindConsumer;
        (client ? p.client : p.server) = std::move(side);
        pending_.emplace(key, std::move(p));
        return Status::Ok();
      });
}

void Graph::Tick(int64_t now) {
  // Requests waiting past the ttl are looked for every ttl / 8 (a scan of
  // the store, which max_items bounds), and resolved oldest first.
  const int64_t ttl = options_.store.ttl.count();
  if (now - last_store_sweep_unix_nano_ >= std::max<int64_t>(ttl / 8, 1)) {
    last_store_sweep_unix_nano_ = now;
    const int64_t cutoff = now - ttl;
    std::vector<std::pair<int64_t, SpanKey>> expired;
    for (const auto& [key, p] : pending_) {
      if (p.created_unix_nano <= cutoff) expired.emplace_back(p.created_unix_nano, key);
    }
    std::sort(expired.begin(), expired.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.view() < b.second.view();
    });
    for (const auto& [created, key] : expired) {
      auto it = pending_.find(key);
      const Pending& p = it->second;
      if (p.client && !p.client->peer.empty()) {
        // A call to a peer that reports no spans: a virtual server node.
        Observe(p.client->service, p.client->peer, p.client->connection_type, &*p.client, nullptr,
                now);
        ++counts_.virtual_nodes;
      } else if (p.server && p.server->root) {
        // A root server span: called by a user, not by a service.
        Observe("user", p.server->service, "", nullptr, &*p.server, now);
        ++counts_.virtual_nodes;
      } else {
        ++counts_.expired;
      }
      pending_.erase(it);
    }
  }
  // Edges idle past metrics_expiration go; looked for once a second, not
  // at every batch.
  if (options_.metrics_expiration.count() > 0 &&
      now - last_edge_sweep_unix_nano_ >= 1'000'000'000) {
    last_edge_sweep_unix_nano_ = now;
    int64_t idle = now - options_.metrics_expiration.count();
    absl::erase_if(edges_, [&](const auto& kv) { return kv.second.last_update_unix_nano < idle; });
  }
}

std::string Graph::Encode(int64_t start, int64_t now, uint64_t* points) const {
  *points = 0;
  if (edges_.empty()) return "";
  std::string out;
  wire::ProtoWriter w(&out);
  size_t rm = w.BeginMessage(of::kRequestResourceMetrics);
  size_t sm = w.BeginMessage(of::kResourceMetricsScopeMetrics);
  size_t scope = w.BeginMessage(of::kScopeMetricsScope);
  w.Bytes(of::kScopeName, "sluice/connector/servicegraph");
  w.EndMessage(scope);
  auto attributes = [&](uint32_t field, const Edge& e) {
    AppendStringAttribute(w, field, "client", e.client);
    AppendStringAttribute(w, field, "server", e.server);
    if (!e.connection_type.empty()) {
      AppendStringAttribute(w, field, "connection_type", e.connection_type);
    }
    for (const auto& [k, v] : e.dimensions) AppendStringAttribute(w, field, k, v);
  };
  auto counter = [&](const char* name, uint64_t Edge::*value) {
    size_t m = w.BeginMessage(of::kScopeMetricsMetrics);
    w.Bytes(of::kMetricName, name);
    size_t sum = w.BeginMessage(of::kMetricSum);
    for (const auto& [key, e] : edges_) {
      size_t p = w.BeginMessage(of::kDataPoints);
      w.Fixed64(of::kPointStartTime, static_cast<uint64_t>(start));
      w.Fixed64(of::kPointTime, static_cast<uint64_t>(now));
      w.Fixed64(of::kNumberAsInt, e.*value);
      attributes(of::kNumberAttributes, e);
      w.EndMessage(p);
      ++*points;
    }
    w.Varint(of::kTemporality, 2);
    w.Varint(of::kSumIsMonotonic, 1);
    w.EndMessage(sum);
    w.EndMessage(m);
  };
  auto histogram = [&](const char* name, std::vector<uint64_t> Edge::*buckets, double Edge::*sum_of,
                       uint64_t Edge::*count) {
    size_t m = w.BeginMessage(of::kScopeMetricsMetrics);
    w.Bytes(of::kMetricName, name);
    w.Bytes(of::kMetricUnit, "s");
    size_t hist = w.BeginMessage(of::kMetricHistogram);
    for (const auto& [key, e] : edges_) {
      if (e.*count == 0) continue;
      size_t p = w.BeginMessage(of::kDataPoints);
      w.Fixed64(of::kPointStartTime, static_cast<uint64_t>(start));
      w.Fixed64(of::kHistogramTime, static_cast<uint64_t>(now));
      w.Fixed64(of::kHistogramCount, e.*count);
      w.Double(of::kHistogramSum, e.*sum_of);
      std::string counts, bounds;
      for (uint64_t c : e.*buckets) counts.append(reinterpret_cast<const char*>(&c), 8);
      for (double b : options_.latency_histogram_buckets) {
        bounds.append(reinterpret_cast<const char*>(&b), 8);
      }
      w.Bytes(of::kHistogramBucketCounts, counts);
      w.Bytes(of::kHistogramExplicitBounds, bounds);
      attributes(of::kHistogramAttributes, e);
      w.EndMessage(p);
      ++*points;
    }
    w.Varint(of::kTemporality, 2);
    w.EndMessage(hist);
    w.EndMessage(m);
  };
  counter("traces_service_graph_request_total", &Edge::requests);
  counter("traces_service_graph_request_failed_total", &Edge::failed);
  histogram("traces_service_graph_request_server_seconds", &Edge::server_buckets, &Edge::server_sum,
            &Edge::server_count);
  histogram("traces_service_graph_request_client_seconds", &Edge::client_buckets, &Edge::client_sum,
            &Edge::client_count);
  w.EndMessage(sm);
  w.EndMessage(rm);
  return out;
}

// Checkpoint layout (our own, protobuf wire format): repeated Edge = 1 {
// client = 1, server = 2, connection_type = 3, repeated dim = 4 {1, 2},
// requests = 5, failed = 6, repeated server_bucket = 7, repeated
// client_bucket = 8, server_sum = 9, client_sum = 10, server_count = 11,
// client_count = 12, last_update = 13 }; repeated Pending = 2 { key = 1,
// created = 2, messaging = 3, client = 4, server = 5 (Side: service = 1,
// seconds = 2, failed = 3, repeated dim = 4, peer = 5, connection_type = 6,
// root = 7) }, in creation order.
namespace {

void WriteDims(wire::ProtoWriter& w, uint32_t field,
               const std::vector<std::pair<std::string, std::string>>& dims) {
  for (const auto& [k, v] : dims) {
    size_t d = w.BeginMessage(field);
    w.Bytes(1, k);
    w.Bytes(2, v);
    w.EndMessage(d);
  }
}

void WriteSide(wire::ProtoWriter& w, uint32_t field, const Graph::Side& s) {
  size_t m = w.BeginMessage(field);
  w.Bytes(1, s.service);
  w.Double(2, s.seconds);
  w.Varint(3, s.failed ? 1 : 0);
  WriteDims(w, 4, s.dimensions);
  w.Bytes(5, s.peer);
  w.Bytes(6, s.connection_type);
  w.Varint(7, s.root ? 1 : 0);
  w.EndMessage(m);
}

Graph::Side ReadSide(std::string_view bytes) {
  Graph::Side s;
  wire::ProtoReader r(bytes);
  while (r.Next()) {
    switch (r.field()) {
      case 1:
        s.service = std::string(r.bytes());
        break;
      case 2:
        s.seconds = r.as_double();
        break;
      case 3:
        s.failed = r.varint() != 0;
        break;
      case 4:
        s.dimensions.emplace_back(std::string(wire::LastBytesField(r.bytes(), 1)),
                                  std::string(wire::LastBytesField(r.bytes(), 2)));
        break;
      case 5:
        s.peer = std::string(r.bytes());
        break;
      case 6:
        s.connection_type = std::string(r.bytes());
        break;
      case 7:
        s.root = r.varint() != 0;
        break;
      default:
        break;
    }
  }
  return s;
}

}  // namespace

std::string Graph::Serialize() const {
  std::string out;
  wire::ProtoWriter w(&out);
  for (const auto& [key, e] : edges_) {
    size_t m = w.BeginMessage(1);
    w.Bytes(1, e.client);
    w.Bytes(2, e.server);
    w.Bytes(3, e.connection_type);
    WriteDims(w, 4, e.dimensions);
    w.Varint(5, e.requests);
    w.Varint(6, e.failed);
    for (uint64_t c : e.server_buckets) w.Varint(7, c);
    for (uint64_t c : e.client_buckets) w.Varint(8, c);
    w.Double(9, e.server_sum);
    w.Double(10, e.client_sum);
    w.Varint(11, e.server_count);
    w.Varint(12, e.client_count);
    w.Varint(13, static_cast<uint64_t>(e.last_update_unix_nano));
    w.EndMessage(m);
  }
  // Waiting requests oldest first, so a checkpoint's bytes depend only on
  // its state.
  std::vector<std::pair<const SpanKey*, const Pending*>> waiting;
  for (const auto& [key, p] : pending_) waiting.emplace_back(&key, &p);
  std::sort(waiting.begin(), waiting.end(), [](const auto& a, const auto& b) {
    return a.second->created_unix_nano != b.second->created_unix_nano
               ? a.second->created_unix_nano < b.second->created_unix_nano
               : a.first->view() < b.first->view();
  });
  for (const auto& [key_ptr, p_ptr] : waiting) {
    const SpanKey& key = *key_ptr;
    const Pending& p = *p_ptr;
    size_t m = w.BeginMessage(2);
    w.Bytes(1, key.view());
    w.Varint(2, static_cast<uint64_t>(p.created_unix_nano));
    w.Varint(3, p.messaging ? 1 : 0);
    if (p.client) WriteSide(w, 4, *p.client);
    if (p.server) WriteSide(w, 5, *p.server);
    w.EndMessage(m);
  }
  return out;
}

Status Graph::Deserialize(std::string_view bytes) {
  edges_.clear();
  pending_.clear();
  const size_t buckets = options_.latency_histogram_buckets.size() + 1;
  wire::ProtoReader r(bytes);
  while (r.Next()) {
    if (r.field() == 1) {
      Edge e;
      wire::ProtoReader f(r.bytes());
      while (f.Next()) {
        switch (f.field()) {
          case 1:
            e.client = std::string(f.bytes());
            break;
          case 2:
            e.server = std::string(f.bytes());
            break;
          case 3:
            e.connection_type = std::string(f.bytes());
            break;
          case 4:
            e.dimensions.emplace_back(std::string(wire::LastBytesField(f.bytes(), 1)),
                                      std::string(wire::LastBytesField(f.bytes(), 2)));
            break;
          case 5:
            e.requests = f.varint();
            break;
          case 6:
            e.failed = f.varint();
            break;
          case 7:
            e.server_buckets.push_back(f.varint());
            break;
          case 8:
            e.client_buckets.push_back(f.varint());
            break;
          case 9:
            e.server_sum = f.as_double();
            break;
          case 10:
            e.client_sum = f.as_double();
            break;
          case 11:
            e.server_count = f.varint();
            break;
          case 12:
            e.client_count = f.varint();
            break;
          case 13:
            e.last_update_unix_nano = f.as_int64();
            break;
          default:
            break;
        }
      }
      if (!f.ok() || e.server_buckets.size() != buckets || e.client_buckets.size() != buckets) {
        return Status::Corruption("an edge does not match the configured buckets");
      }
      std::string key = EdgeKey(e.client, e.server, e.connection_type, e.dimensions);
      edges_.emplace(std::move(key), std::move(e));
    } else if (r.field() == 2) {
      Pending p;
      SpanKey key;
      wire::ProtoReader f(r.bytes());
      while (f.Next()) {
        switch (f.field()) {
          case 1: {
            std::string_view b = f.bytes();
            key = SpanKey::Of(b.substr(0, 16), b.size() > 16 ? b.substr(16) : std::string_view());
            break;
          }
          case 2:
            p.created_unix_nano = f.as_int64();
            break;
          case 3:
            p.messaging = f.varint() != 0;
            break;
          case 4:
            p.client = ReadSide(f.bytes());
            break;
          case 5:
            p.server = ReadSide(f.bytes());
            break;
          default:
            break;
        }
      }
      if (!f.ok()) return Status::Corruption(f.error());
      pending_.emplace(key, std::move(p));
    }
  }
  if (!r.ok()) return Status::Corruption(r.error());
  return Status::Ok();
}

namespace {

class ServiceGraphAggregation final : public Aggregation {
 public:
  ServiceGraphAggregation(const ServiceGraphOptions& options, telemetry::Registry& registry,
                          const std::string& id)
      : options_(options),
        graph_(options_),
        paired_(registry
                    .AddCounter("sluice_connector_servicegraph_paired_total",
                                "Client and server spans a servicegraph connector paired.",
                                {"connector"})
                    .With({id})),
        virtual_(registry
                     .AddCounter("sluice_connector_servicegraph_virtual_nodes_total",
                                 "Requests a servicegraph connector completed with a virtual "
                                 "node (an uninstrumented peer, or `user` for a root span).",
                                 {"connector"})
                     .With({id})),
        expired_(registry
                     .AddCounter("sluice_connector_servicegraph_expired_total",
                                 "Spans that waited store.ttl for their other side in vain.",
                                 {"connector"})
                     .With({id})),
        dropped_(registry
                     .AddCounter("sluice_connector_servicegraph_dropped_total",
                                 "Spans not stored for pairing because the store held "
                                 "store.max_items.",
                                 {"connector"})
                     .With({id})),
        pending_(registry
                     .AddGauge("sluice_connector_servicegraph_pending",
                               "Spans waiting for their other side.", {"connector"})
                     .With({id})) {}

  ~ServiceGraphAggregation() override { pending_.Add(-static_cast<double>(last_pending_)); }

  Status Add(std::string_view request, int64_t now) override {
    Status st = graph_.Add(request, now);
    graph_.Tick(now);  // expiry follows store.ttl, not the flush interval
    Publish();
    return st;
  }
  void Tick(int64_t now) override {
    graph_.Tick(now);
    Publish();
  }
  std::string Serialize() const override { return graph_.Serialize(); }
  Status Deserialize(std::string_view bytes) override { return graph_.Deserialize(bytes); }
  std::string Encode(int64_t start, int64_t now, uint64_t* points) const override {
    return graph_.Encode(start, now, points);
  }
  size_t Series() const override { return graph_.edges().size(); }
  bool Idle() const override { return graph_.edges().empty() && graph_.pending() == 0; }

 private:
  void Publish() {
    const Graph::Counts& c = graph_.counts();
    paired_.Inc(c.paired - last_.paired);
    virtual_.Inc(c.virtual_nodes - last_.virtual_nodes);
    expired_.Inc(c.expired - last_.expired);
    dropped_.Inc(c.dropped - last_.dropped);
    last_ = c;
    // One gauge for every tenant's aggregation: each adds its own change.
    pending_.Add(static_cast<double>(graph_.pending()) - static_cast<double>(last_pending_));
    last_pending_ = graph_.pending();
  }

  const ServiceGraphOptions options_;
  Graph graph_;
  Graph::Counts last_;
  size_t last_pending_ = 0;
  telemetry::Counter& paired_;
  telemetry::Counter& virtual_;
  telemetry::Counter& expired_;
  telemetry::Counter& dropped_;
  telemetry::Gauge& pending_;
};

}  // namespace

const config::Schema<ServiceGraphOptions>& ServiceGraphOptionsSchema() {
  static const config::Schema<ServiceGraphOptions> schema = [] {
    config::Schema<StoreOptions> store("servicegraph.store");
    store
        .Duration("ttl", &StoreOptions::ttl,
                  "How long a span waits for the other side of its request.", {1e6L, 3600e9L})
        .Int("max_items", &StoreOptions::max_items,
             "Spans waiting at most; past it new ones are not paired (counted).", {1, 100'000'000});
    config::Schema<ServiceGraphOptions> s("servicegraph connector");
    s.Custom("latency_histogram_buckets", "list of durations", "2ms ... 15s",
             "Bounds of the request_server_seconds and request_client_seconds histograms.",
             [](const YAML::Node& n, ServiceGraphOptions* o, config::Context& ctx) {
               ParseBucketDurations(n, ctx, &o->latency_histogram_buckets);
             });
    s.StringList("dimensions", &ServiceGraphOptions::dimensions,
                 "Span (or resource) attributes added to each edge as client_<name> and "
                 "server_<name>.")
        .Object("store", &ServiceGraphOptions::store, store, "")
        .StringList("virtual_node_peer_attributes",
                    &ServiceGraphOptions::virtual_node_peer_attributes,
                    "Attributes of an unanswered client span naming the peer it called; the "
                    "first found becomes a virtual server node (db.* ones with "
                    "connection_type=\"database\").")
        .Duration("metrics_flush_interval", &ServiceGraphOptions::metrics_flush_interval,
                  "How often the graph is checkpointed and its metrics appended.", {1e8L, 3600e9L})
        .Duration("metrics_expiration", &ServiceGraphOptions::metrics_expiration,
                  "Edges without a request for this long stop being exported (0: never).",
                  {0, 365 * 86400e9L})
        .Enum("start_at", &ServiceGraphOptions::start_at,
              {{"oldest", log::StartAt::kOldest}, {"newest", log::StartAt::kNewest}},
              "Where a connector without a checkpoint starts reading.")
        .Int("max_tenants", &ServiceGraphOptions::max_tenants,
             "Tenants besides the default one whose graphs are kept apart at most; spans of "
             "further tenants are counted, not paired.",
             {0, 100'000});
    return s;
  }();
  return schema;
}

pipeline::ComponentType ServiceGraphConnectorType() {
  return pipeline::MakeConnectorType(
      "servicegraph",
      "Requests, failures and latency between services, from client and server spans paired "
      "by trace and span id, checkpointed with its position in the log (docs/connectors.md).",
      {log::Signal::kTraces}, {log::Signal::kMetrics}, ServiceGraphOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const ServiceGraphOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        CheckpointedConnector::Options co;
        co.flush_interval = o.metrics_flush_interval;
        co.start_at = o.start_at;
        co.magic = "SLSG";
        co.max_tenants = static_cast<size_t>(o.max_tenants);
        return std::unique_ptr<pipeline::Exporter>(
            new CheckpointedConnector(s, rt, co, [o, &rt, id = s.id] {
              return std::make_unique<ServiceGraphAggregation>(o, rt.metrics, id);
            }));
      });
}

}  // namespace sluice::connectors::servicegraph
