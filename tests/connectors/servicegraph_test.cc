#include <gtest/gtest.h>

#include "connectors/servicegraph/servicegraph_connector.h"
#include "support/otlp_builders.h"

namespace sluice::connectors::servicegraph {
namespace {

namespace pb = testing::otlp_pb;
using TraceRequest = pb::collector::trace::v1::ExportTraceServiceRequest;
using Kind = pb::trace::v1::Span::SpanKind;

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ull;
constexpr int64_t kSec = 1'000'000'000;

struct SpanSpec {
  std::string service;
  Kind kind;
  char trace;
  char id;
  char parent;  // 0: none
  double ms;
  bool error = false;
  std::vector<std::pair<std::string, std::string>> attrs = {};
};

TraceRequest Spans(const std::vector<SpanSpec>& specs) {
  TraceRequest req;
  for (const SpanSpec& s : specs) {
    auto* rs = req.add_resource_spans();
    auto* kv = rs->mutable_resource()->add_attributes();
    kv->set_key("service.name");
    kv->mutable_value()->set_string_value(s.service);
    auto* span = rs->add_scope_spans()->add_spans();
    span->set_trace_id(std::string(15, '\x01') + s.trace);
    span->set_span_id(std::string(7, '\x02') + s.id);
    if (s.parent != 0) span->set_parent_span_id(std::string(7, '\x02') + s.parent);
    span->set_name("op");
    span->set_kind(s.kind);
    span->set_start_time_unix_nano(kT0);
    span->set_end_time_unix_nano(kT0 + static_cast<uint64_t>(s.ms * 1e6));
    if (s.error) span->mutable_status()->set_code(pb::trace::v1::Status::STATUS_CODE_ERROR);
    for (const auto& [k, v] : s.attrs) {
      auto* a = span->add_attributes();
      a->set_key(k);
      a->mutable_value()->set_string_value(v);
    }
  }
  return req;
}

const Graph::Edge* EdgeOf(const Graph& g, const std::string& client, const std::string& server) {
  for (const auto& [k, e] : g.edges()) {
    if (e.client == client && e.server == server) return &e;
  }
  return nullptr;
}

TEST(ServiceGraphTest, ClientAndServerSpansPairIntoAnEdgeWithItsFailuresAndLatencies) {
  ServiceGraphOptions o;
  Graph g(o);
  // frontend calls checkout twice; the second call fails on the server.
  auto req = Spans({
      {"frontend", Kind::Span_SpanKind_SPAN_KIND_CLIENT, 'a', 1, 0, 30},
      {"checkout", Kind::Span_SpanKind_SPAN_KIND_SERVER, 'a', 2, 1, 20},
      {"checkout", Kind::Span_SpanKind_SPAN_KIND_SERVER, 'b', 4, 3, 5, true},
  });
  ASSERT_TRUE(g.Add(req.SerializeAsString(), kSec).ok());
  EXPECT_EQ(g.pending(), 1u) << "the second server span waits for its client";
  ASSERT_TRUE(g.Add(Spans({{"frontend", Kind::Span_SpanKind_SPAN_KIND_CLIENT, 'b', 3, 0, 9}})
                        .SerializeAsString(),
                    kSec)
                  .ok());
  const auto* e = EdgeOf(g, "frontend", "checkout");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->requests, 2u);
  EXPECT_EQ(e->failed, 1u);
  EXPECT_EQ(e->server_count, 2u);
  EXPECT_DOUBLE_EQ(e->server_sum, 0.025);
  EXPECT_DOUBLE_EQ(e->client_sum, 0.039);
  EXPECT_EQ(e->server_buckets[2], 1u) << "5ms in (4ms, 6ms]";
  EXPECT_EQ(g.pending(), 0u);
  EXPECT_EQ(g.counts().paired, 2u);
}

TEST(ServiceGraphTest, UnansweredCallsToNamedPeersBecomeVirtualNodesAndRootsComeFromUser) {
  ServiceGraphOptions o;
  Graph g(o);
  auto req = Spans({
      {"checkout",
       Kind::Span_SpanKind_SPAN_KIND_CLIENT,
       'a',
       1,
       0,
       3,
       false,
       {{"db.system", "postgresql"}, {"db.name", "orders"}}},
      {"checkout",
       Kind::Span_SpanKind_SPAN_KIND_CLIENT,
       'a',
       2,
       0,
       3,
       true,
       {{"peer.service", "payments-api"}}},
      {"checkout", Kind::Span_SpanKind_SPAN_KIND_CLIENT, 'a', 3, 0, 3},
      {"frontend", Kind::Span_SpanKind_SPAN_KIND_SERVER, 'c', 9, 0, 50},
  });
  ASSERT_TRUE(g.Add(req.SerializeAsString(), kSec).ok());
  g.Tick(kSec + kSec);  // within the 2s ttl: still waiting
  EXPECT_EQ(g.pending(), 4u);
  g.Tick(kSec + 3 * kSec);
  EXPECT_EQ(g.pending(), 0u);
  const auto* db = EdgeOf(g, "checkout", "orders");
  ASSERT_NE(db, nullptr) << "db.name names the database node";
  EXPECT_EQ(db->connection_type, "database");
  const auto* peer = EdgeOf(g, "checkout", "payments-api");
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->failed, 1u);
  EXPECT_EQ(peer->server_count, 0u) << "no server side was seen";
  ASSERT_NE(EdgeOf(g, "user", "frontend"), nullptr);
  EXPECT_EQ(g.counts().expired, 1u) << "the call naming no peer";
  EXPECT_EQ(g.counts().virtual_nodes, 3u);
}

TEST(ServiceGraphTest, MessagingPairsAndAFullStoreDropsNewSpans) {
  ServiceGraphOptions o;
  o.store.max_items = 1;
  Graph g(o);
  auto req = Spans({
      {"orders", Kind::Span_SpanKind_SPAN_KIND_PRODUCER, 'a', 1, 0, 1},
      {"billing", Kind::Span_SpanKind_SPAN_KIND_CLIENT, 'b', 5, 0, 1},  // store full: dropped
      {"mailer", Kind::Span_SpanKind_SPAN_KIND_CONSUMER, 'a', 2, 1, 1},
  });
  ASSERT_TRUE(g.Add(req.SerializeAsString(), kSec).ok());
  const auto* e = EdgeOf(g, "orders", "mailer");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->connection_type, "messaging_system");
  EXPECT_EQ(g.counts().dropped, 1u);
}

TEST(ServiceGraphTest, CheckpointKeepsEdgesAndWaitingSpansSoPairingContinuesAfterARestart) {
  ServiceGraphOptions o;
  Graph before(o);
  ASSERT_TRUE(before
                  .Add(Spans({{"a", Kind::Span_SpanKind_SPAN_KIND_CLIENT, 'x', 1, 0, 1},
                              {"b", Kind::Span_SpanKind_SPAN_KIND_SERVER, 'x', 2, 1, 1},
                              {"a", Kind::Span_SpanKind_SPAN_KIND_CLIENT, 'y', 3, 0, 1}})
                           .SerializeAsString(),
                       kSec)
                  .ok());
  std::string bytes = before.Serialize();
  Graph after(o);
  ASSERT_TRUE(after.Deserialize(bytes).ok());
  EXPECT_EQ(after.Serialize(), bytes);
  EXPECT_EQ(after.pending(), 1u);
  ASSERT_TRUE(after
                  .Add(Spans({{"b", Kind::Span_SpanKind_SPAN_KIND_SERVER, 'y', 4, 3, 1}})
                           .SerializeAsString(),
                       kSec)
                  .ok());
  EXPECT_EQ(EdgeOf(after, "a", "b")->requests, 2u);
  ServiceGraphOptions other;
  other.latency_histogram_buckets = {1};
  Graph mismatched(other);
  EXPECT_EQ(mismatched.Deserialize(bytes).code(), StatusCode::kCorruption);
}

TEST(ServiceGraphTest, EncodedMetricsHaveTheCollectorsNamesAndLabels) {
  ServiceGraphOptions o;
  Graph g(o);
  ASSERT_TRUE(g.Add(Spans({{"a", Kind::Span_SpanKind_SPAN_KIND_CLIENT, 'x', 1, 0, 1, true},
                           {"b", Kind::Span_SpanKind_SPAN_KIND_SERVER, 'x', 2, 1, 1}})
                        .SerializeAsString(),
                    kSec)
                  .ok());
  uint64_t points = 0;
  pb::collector::metrics::v1::ExportMetricsServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(g.Encode(1, 2, &points)));
  EXPECT_EQ(points, 4u);
  const auto& m = req.resource_metrics(0).scope_metrics(0).metrics();
  ASSERT_EQ(m.size(), 4);
  EXPECT_EQ(m[0].name(), "traces_service_graph_request_total");
  EXPECT_EQ(m[1].name(), "traces_service_graph_request_failed_total");
  EXPECT_EQ(m[1].sum().data_points(0).as_int(), 1);
  EXPECT_EQ(m[2].name(), "traces_service_graph_request_server_seconds");
  EXPECT_EQ(m[3].name(), "traces_service_graph_request_client_seconds");
  const auto& attrs = m[0].sum().data_points(0).attributes();
  ASSERT_EQ(attrs.size(), 2);
  EXPECT_EQ(attrs[0].key(), "client");
  EXPECT_EQ(attrs[0].value().string_value(), "a");
  EXPECT_EQ(attrs[1].key(), "server");
  EXPECT_EQ(attrs[1].value().string_value(), "b");
}

}  // namespace
}  // namespace sluice::connectors::servicegraph
