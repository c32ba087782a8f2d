#include "exporters/kafka/kafka_exporter.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "exporters/common/dead_letter.h"
#include "io/fault_injection_file_system.h"
#include "log/log.h"
#include "support/otlp_builders.h"
#include "support/sender_options.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::exporters::kafka {
namespace {

namespace otlp_pb = opentelemetry::proto;
using namespace std::chrono_literals;

constexpr int kPartitions = 4;
constexpr int kBrokers = 3;
// Kafka protocol ApiKeys.
constexpr int16_t kProduceApiKey = 0;
constexpr int16_t kInitProducerIdApiKey = 22;
const std::vector<std::string> kTopics = {"otlp_spans", "otlp_metrics", "otlp_logs"};

// A monotonic clock that moves one minute every time it is read, so a
// producer's lifetime runs out after a predictable number of checks.
class SteppingClock final : public Clock {
 public:
  int64_t NowUnixNanos() const override { return Clock::Real().NowUnixNanos(); }
  int64_t MonotonicNanos() const override {
    return now_.fetch_add(std::chrono::nanoseconds(1min).count());
  }
  void SleepFor(std::chrono::nanoseconds d) override { Clock::Real().SleepFor(d); }

 private:
  mutable std::atomic<int64_t> now_{0};
};

struct Received {
  std::string topic;
  int32_t partition = 0;
  bool has_key = false;
  std::string key;
  std::string value;
  std::map<std::string, std::string> headers;
};

KafkaOptions ParseOptions(const std::string& yaml, config::Context* ctx) {
  KafkaOptions o;
  auto node = config::LoadString(yaml, *ctx);
  if (node) KafkaOptionsSchema().Parse(*node, &o, *ctx);
  return o;
}

// Span ids (hex) of every span in the traces requests, with their counts.
std::map<std::string, int> SpanIds(const std::vector<Received>& messages) {
  std::map<std::string, int> ids;
  for (const auto& m : messages) {
    if (m.topic != "otlp_spans") continue;
    otlp_pb::collector::trace::v1::ExportTraceServiceRequest req;
    EXPECT_TRUE(req.ParseFromString(m.value));
    for (const auto& rs : req.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        for (const auto& span : ss.spans()) ++ids[testing::Hex(span.span_id())];
      }
    }
  }
  return ids;
}

std::set<std::string> SpanIdsOf(const otlp_pb::collector::trace::v1::ExportTraceServiceRequest& r) {
  std::set<std::string> ids;
  for (const auto& rs : r.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) ids.insert(testing::Hex(span.span_id()));
    }
  }
  return ids;
}

// Three resources (the first with two scopes); the spans belong to three
// traces interleaved across all of them.
otlp_pb::collector::trace::v1::ExportTraceServiceRequest InterleavedTraces() {
  auto req = testing::MakeTraceRequest(3, 4, 42);
  auto* extra = req.mutable_resource_spans(0)->add_scope_spans();
  extra->mutable_scope()->set_name("second-scope");
  extra->set_schema_url("https://example.com/scope-schema");
  *extra->add_spans() = req.resource_spans(0).scope_spans(0).spans(0);
  extra->mutable_spans(0)->set_span_id(std::string("\x0e\x0e\x0e\x0e\x0e\x0e\x0e\x0e", 8));
  int n = 0;
  for (auto& rs : *req.mutable_resource_spans()) {
    rs.set_schema_url("https://example.com/resource-schema");
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) {
        span.set_trace_id(std::string(15, '\x07') + static_cast<char>('A' + n++ % 3));
      }
    }
  }
  return req;
}

class KafkaExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error);
    mock_handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    ASSERT_NE(mock_handle_, nullptr) << error;
    cluster_ = rd_kafka_mock_cluster_new(mock_handle_, kBrokers);
    ASSERT_NE(cluster_, nullptr);
    for (const auto& t : kTopics) {
      ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, t.c_str(), kPartitions, 1),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    log::LogOptions o;
    o.directory = dir_.path();
    // Faults are armed only by the tests that want them (the dead-letter
    // queue's writes go through the log's file system).
    auto l = log::Log::Open(o, fault_fs_, Clock::Real(), registry_);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    log_ = std::move(l).value();
    rt_ = std::make_unique<pipeline::Runtime>(
        pipeline::Runtime{io_, log_.get(), registry_, health_, *clock_, limiter_});
  }

  void TearDown() override {
    exporter_.reset();
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (mock_handle_ != nullptr) rd_kafka_destroy(mock_handle_);
  }

  // The mock cluster's brokers as the `brokers` option: "brokers: [a, b]".
  std::string BrokersYaml() {
    std::string brokers = rd_kafka_mock_cluster_bootstraps(cluster_);
    std::string list;
    for (size_t start = 0; start <= brokers.size();) {
      size_t comma = std::min(brokers.find(',', start), brokers.size());
      list += (list.empty() ? "" : ", ") + brokers.substr(start, comma - start);
      start = comma + 1;
    }
    return "brokers: [" + list + "]\n";
  }

  // Options for the mock cluster plus `yaml` (more keys, one per line).
  KafkaOptions Options(const std::string& yaml = "") {
    config::Context ctx("test");
    KafkaOptions o = ParseOptions(BrokersYaml() + yaml, &ctx);
    EXPECT_TRUE(ctx.ok()) << ctx.errors()[0].ToString();
    return o;
  }

  void StartExporter(const KafkaOptions& options) {
    pipeline::ComponentSettings s;
    s.id = "kafka";
    for (auto signal : {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}) {
      std::string name(log::SignalName(signal));
      s.pipelines.push_back({name, signal, log::PipelineId(name)});
    }
    auto e = KafkaExporterType().create_exporter(s, &options, *rt_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    exporter_ = std::move(e).value();
    ASSERT_TRUE(exporter_->Start().ok());
  }

  void StopExporter() {
    if (exporter_) exporter_->Stop(std::chrono::steady_clock::now() + 10s);
    exporter_.reset();
  }

  void Append(log::Signal signal, const std::string& payload, uint32_t items,
              log::Encoding encoding = log::Encoding::kOtlpProto, const std::string& tenant = "") {
    log::AppendRequest r;
    r.signal = signal;
    r.encoding = encoding;
    r.pipelines = {log::PipelineId(log::SignalName(signal))};
    r.tenant = tenant;
    r.item_count = items;
    r.payload = payload;
    ASSERT_TRUE(log_->Append(std::move(r)).ok());
  }

  // Appends `batches` traces batches of 2 × 5 spans; returns their span ids.
  std::set<std::string> AppendSpans(int batches, uint64_t first_seed = 1) {
    std::set<std::string> ids;
    for (int i = 0; i < batches; ++i) {
      auto req = testing::MakeTraceRequest(2, 5, first_seed + static_cast<uint64_t>(i));
      auto batch_ids = SpanIdsOf(req);
      ids.insert(batch_ids.begin(), batch_ids.end());
      Append(log::Signal::kTraces, req.SerializeAsString(), 10);
    }
    return ids;
  }

  // Reads `topics` from the beginning until `done` holds for what arrived
  // (then `settle` longer, to catch duplicates), or 30 s pass.
  std::vector<Received> Consume(const std::vector<std::string>& topics,
                                const std::function<bool(const std::vector<Received>&)>& done,
                                std::chrono::milliseconds settle = 500ms) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster_), error,
                      sizeof error);
    rd_kafka_conf_set(conf, "group.id", "verifier", error, sizeof error);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof error);
    rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error);
    rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    EXPECT_NE(consumer, nullptr) << error;
    if (consumer == nullptr) return {};
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(16);
    for (const auto& t : topics) {
      for (int p = 0; p < kPartitions; ++p) {
        rd_kafka_topic_partition_list_add(parts, t.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    EXPECT_EQ(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);

    std::vector<Received> got;
    auto deadline = std::chrono::steady_clock::now() + 30s;
    std::optional<std::chrono::steady_clock::time_point> settle_until;
    while (std::chrono::steady_clock::now() < (settle_until ? *settle_until : deadline)) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
      if (m != nullptr) {
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          Received r;
          r.topic = rd_kafka_topic_name(m->rkt);
          r.partition = m->partition;
          r.has_key = m->key != nullptr;
          if (m->key) r.key.assign(static_cast<const char*>(m->key), m->key_len);
          r.value.assign(static_cast<const char*>(m->payload), m->len);
          rd_kafka_headers_t* headers = nullptr;
          if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* name;
            const void* value;
            size_t size;
            for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) ==
                               RD_KAFKA_RESP_ERR_NO_ERROR;
                 ++i) {
              r.headers[name] = std::string(static_cast<const char*>(value), size);
            }
          }
          got.push_back(std::move(r));
        }
        rd_kafka_message_destroy(m);
      }
      if (!settle_until && done(got)) settle_until = std::chrono::steady_clock::now() + settle;
    }
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return got;
  }

  std::vector<Received> ConsumeSpans(const std::set<std::string>& want) {
    return Consume({"otlp_spans"}, [&](const std::vector<Received>& got) {
      auto ids = SpanIds(got);
      return std::all_of(want.begin(), want.end(), [&](const auto& id) { return ids.count(id); });
    });
  }

  uint64_t Counter(const std::string& name) {
    return registry_.AddCounter(name, "", {"exporter"}).With({"kafka"}).Value();
  }

  // Waits until the exporter's cursor is committed at the end of the log.
  bool CursorReachesEnd(std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (log_->CursorOf("kafka") == log_->End()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  // The entries of the exporter's dead-letter queue.
  std::vector<DeadLetterQueue::Entry> DeadLetters() {
    auto dlq = DeadLetterQueue::Open(io::FileSystem::Posix(),
                                     DeadLetterQueue::DirectoryFor(dir_.path(), "kafka"), "kafka",
                                     1 << 30, nullptr);
    EXPECT_TRUE(dlq.ok());
    if (!dlq.ok()) return {};
    auto entries = (*dlq)->List();
    EXPECT_TRUE(entries.ok());
    return entries.ok() ? *entries : std::vector<DeadLetterQueue::Entry>{};
  }

  void SetBrokersDown(bool down) {
    for (int id = 1; id <= kBrokers; ++id) {
      if (down) {
        rd_kafka_mock_broker_set_down(cluster_, id);
      } else {
        rd_kafka_mock_broker_set_up(cluster_, id);
      }
    }
  }

  testing::TempDir dir_;
  io::FaultInjectionFileSystem fault_fs_{io::FileSystem::Posix()};
  telemetry::Registry registry_;
  telemetry::Health health_;
  pipeline::InFlightLimiter limiter_{64 << 20, registry_};
  boost::asio::io_context io_;
  std::unique_ptr<Clock> owned_clock_;
  Clock* clock_ = &Clock::Real();
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<pipeline::Runtime> rt_;
  rd_kafka_t* mock_handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::unique_ptr<pipeline::Exporter> exporter_;
};

TEST_F(KafkaExporterTest, EverySpanAppendedArrivesExactlyOnceAsOtlpProtobuf) {
  std::set<std::string> want = AppendSpans(10);
  StartExporter(Options());
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  EXPECT_EQ(ids.size(), want.size());
  for (const auto& id : want) EXPECT_EQ(ids[id], 1) << id;
  ASSERT_EQ(got.size(), 10u);  // one message per stored batch
  for (const auto& m : got) {
    EXPECT_FALSE(m.has_key);
    otlp_pb::collector::trace::v1::ExportTraceServiceRequest req;
    ASSERT_TRUE(req.ParseFromString(m.value));
    ASSERT_EQ(req.resource_spans_size(), 2);
    EXPECT_EQ(req.resource_spans(0).resource().attributes(0).key(), "service.name");
    EXPECT_EQ(req.resource_spans(0).scope_spans(0).scope().name(), "test-scope");
  }
  EXPECT_TRUE(CursorReachesEnd());
  StopExporter();
  EXPECT_EQ(Counter("sluice_exporter_kafka_produced_messages_total"), 10u);
  EXPECT_EQ(Counter("sluice_exporter_kafka_delivery_failures_total"), 0u);
}

TEST_F(KafkaExporterTest, MetricsAndLogsGoToTheirOwnTopicsUnchangedWithTheirTenant) {
  std::string metrics = testing::MakeMetricsRequest(5, 3).SerializeAsString();
  std::string logs = testing::MakeLogsRequest(4, 3).SerializeAsString();
  Append(log::Signal::kMetrics, metrics, 7, log::Encoding::kOtlpProto, "acme");
  Append(log::Signal::kLogs, logs, 4, log::Encoding::kOtlpProto, "acme");
  StartExporter(Options());
  auto got = Consume({"otlp_metrics", "otlp_logs"},
                     [](const std::vector<Received>& g) { return g.size() >= 2; });
  ASSERT_EQ(got.size(), 2u);
  for (const auto& m : got) {
    EXPECT_EQ(m.value, m.topic == "otlp_metrics" ? metrics : logs) << m.topic;
    EXPECT_EQ(m.headers.at("x-scope-orgid"), "acme");
  }
  EXPECT_NE(got[0].topic, got[1].topic);
}

TEST_F(KafkaExporterTest, TopicsAreConfigurablePerSignal) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_, "custom-logs", kPartitions, 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  Append(log::Signal::kLogs, testing::MakeLogsRequest(2, 1).SerializeAsString(), 2);
  StartExporter(Options("logs: {topic: custom-logs}"));
  auto got = Consume({"custom-logs", "otlp_logs"},
                     [](const std::vector<Received>& g) { return !g.empty(); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, "custom-logs");
}

TEST_F(KafkaExporterTest, TraceIdPartitionedMessagesHoldOnlyTheirTraceKeyedByIt) {
  auto req = InterleavedTraces();
  std::set<std::string> want = SpanIdsOf(req);
  // The same traces twice: each trace's messages must share a partition.
  Append(log::Signal::kTraces, req.SerializeAsString(), static_cast<uint32_t>(want.size()));
  auto again = req;
  for (auto& rs : *again.mutable_resource_spans()) {
    for (auto& ss : *rs.mutable_scope_spans()) {
      for (auto& span : *ss.mutable_spans()) span.set_span_id(span.span_id().substr(0, 7) + "z");
    }
  }
  auto again_ids = SpanIdsOf(again);
  want.insert(again_ids.begin(), again_ids.end());
  Append(log::Signal::kTraces, again.SerializeAsString(), static_cast<uint32_t>(again_ids.size()));

  StartExporter(Options("partition_by: trace_id"));
  auto got = ConsumeSpans(want);
  ASSERT_EQ(got.size(), 6u);  // three traces, twice
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  for (const auto& m : got) {
    ASSERT_TRUE(m.has_key);
    ASSERT_EQ(m.key.size(), 16u);
    partitions_of_key[m.key].insert(m.partition);
    otlp_pb::collector::trace::v1::ExportTraceServiceRequest part;
    ASSERT_TRUE(part.ParseFromString(m.value));
    for (const auto& rs : part.resource_spans()) {
      EXPECT_EQ(rs.schema_url(), "https://example.com/resource-schema");
      EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
      for (const auto& ss : rs.scope_spans()) {
        EXPECT_FALSE(ss.scope().name().empty());
        for (const auto& span : ss.spans()) EXPECT_EQ(span.trace_id(), m.key);
      }
    }
  }
  EXPECT_EQ(partitions_of_key.size(), 3u);
  for (const auto& [key, partitions] : partitions_of_key) EXPECT_EQ(partitions.size(), 1u);
  auto ids = SpanIds(got);
  EXPECT_EQ(ids.size(), want.size());
  for (const auto& id : want) EXPECT_EQ(ids[id], 1) << id;
}

TEST_F(KafkaExporterTest, TraceIdPartitioningLeavesOtherSignalsWholeAndUnkeyed) {
  std::string logs = testing::MakeLogsRequest(3, 9).SerializeAsString();
  Append(log::Signal::kLogs, logs, 3);
  StartExporter(Options("partition_by: trace_id"));
  auto got = Consume({"otlp_logs"}, [](const std::vector<Received>& g) { return !g.empty(); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].has_key);
  EXPECT_EQ(got[0].value, logs);
}

TEST_F(KafkaExporterTest, ServicePartitioningKeysMessagesByServiceName) {
  std::string logs = testing::MakeLogsRequest(3, 9).SerializeAsString();
  Append(log::Signal::kLogs, logs, 3);
  auto traces = testing::MakeTraceRequest(2, 3, 5);
  Append(log::Signal::kTraces, traces.SerializeAsString(), 6);
  StartExporter(Options("partition_by: service"));
  auto got = Consume({"otlp_logs", "otlp_spans"},
                     [](const std::vector<Received>& g) { return g.size() >= 3; });
  ASSERT_EQ(got.size(), 3u);
  std::set<std::string> keys;
  for (const auto& m : got) {
    ASSERT_TRUE(m.has_key);
    keys.insert(m.key);
    if (m.topic == "otlp_logs") {
      EXPECT_EQ(m.value, logs);  // a single resource: unchanged
    }
  }
  EXPECT_EQ(keys, (std::set<std::string>{"logs-9", "service-5-0", "service-5-1"}));
  EXPECT_EQ(SpanIds(got).size(), 6u);
}

TEST_F(KafkaExporterTest, RemoteWriteBatchesAreSkippedAndCountedWithoutBlocking) {
  Append(log::Signal::kMetrics, testing::MakeWriteRequest(2, 3, 1).SerializeAsString(), 6,
         log::Encoding::kPromRemoteWriteProto);
  std::string metrics = testing::MakeMetricsRequest(2, 1).SerializeAsString();
  Append(log::Signal::kMetrics, metrics, 4);
  StartExporter(Options());
  auto got = Consume({"otlp_metrics"}, [](const std::vector<Received>& g) { return !g.empty(); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value, metrics);
  EXPECT_TRUE(CursorReachesEnd());
  EXPECT_EQ(Counter("sluice_exporter_unsupported_items_total"), 6u);
}

TEST_F(KafkaExporterTest, RecyclingTheProducerMidStreamLosesNothing) {
  owned_clock_ = std::make_unique<SteppingClock>();
  clock_ = owned_clock_.get();
  rt_ = std::make_unique<pipeline::Runtime>(
      pipeline::Runtime{io_, log_.get(), registry_, health_, *clock_, limiter_});
  // Slow acknowledgements keep messages in flight when a producer is replaced.
  for (int id = 1; id <= kBrokers; ++id) rd_kafka_mock_broker_set_rtt(cluster_, id, 100);
  std::set<std::string> want = AppendSpans(30);
  // The clock moves a minute per check, so a 5m lifetime ends every few batches.
  StartExporter(Options("connection_max_lifetime: 5m"));
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  EXPECT_EQ(ids.size(), want.size());
  for (const auto& id : want) EXPECT_EQ(ids[id], 1) << id;
  EXPECT_GE(Counter("sluice_exporter_kafka_producers_recycled_total"), 3u);
  EXPECT_TRUE(CursorReachesEnd());
}

TEST_F(KafkaExporterTest, RetriableBrokerErrorsAreRetriedAndNothingIsLost) {
  rd_kafka_mock_push_request_errors(
      cluster_, kProduceApiKey, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  std::set<std::string> want = AppendSpans(8);
  StartExporter(Options());
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  for (const auto& id : want) EXPECT_GE(ids[id], 1) << id;
  EXPECT_EQ(ids.size(), want.size());
  EXPECT_TRUE(CursorReachesEnd());
}

TEST_F(KafkaExporterTest, FailedDeliveriesAreSentAgainUntilTheBrokerTakesThem) {
  // The producer gives these up at once (no retry of its own), so the
  // exporter's resend is what saves the messages.
  rd_kafka_mock_push_request_errors(
      cluster_, kProduceApiKey, 3, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  std::set<std::string> want = AppendSpans(4);
  StartExporter(Options());
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  for (const auto& id : want) EXPECT_GE(ids[id], 1) << id;
  EXPECT_EQ(ids.size(), want.size());
  EXPECT_TRUE(CursorReachesEnd());
  EXPECT_GT(Counter("sluice_exporter_kafka_delivery_failures_total"), 0u);
  EXPECT_GT(Counter("sluice_exporter_kafka_resent_messages_total"), 0u);
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
}

TEST_F(KafkaExporterTest, MessagesThatTimedOutWhileBrokersWereDownAreSentAgain) {
  SetBrokersDown(true);
  std::set<std::string> want = AppendSpans(3);
  StartExporter(Options("timeout: 300ms"));
  std::this_thread::sleep_for(1500ms);
  EXPECT_GT(Counter("sluice_exporter_kafka_delivery_failures_total"), 0u);
  EXPECT_EQ(log_->CursorOf("kafka"), log_->Begin());
  SetBrokersDown(false);
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  for (const auto& id : want) EXPECT_GE(ids[id], 1) << id;
  EXPECT_EQ(ids.size(), want.size());
  EXPECT_TRUE(CursorReachesEnd());
}

TEST_F(KafkaExporterTest, CursorIsNotCommittedPastUndeliveredMessagesAndRestartResumes) {
  SetBrokersDown(true);
  std::set<std::string> want = AppendSpans(3);
  const log::Position begin = log_->CursorOf("kafka");
  StartExporter(Options("timeout: 300ms"));
  std::this_thread::sleep_for(1500ms);
  StopExporter();
  EXPECT_GT(Counter("sluice_exporter_kafka_delivery_failures_total"), 0u);
  EXPECT_EQ(log_->CursorOf("kafka"), begin);

  SetBrokersDown(false);
  StartExporter(Options("timeout: 300ms"));  // a restart: resumes from the committed cursor
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  for (const auto& id : want) EXPECT_GE(ids[id], 1) << id;
  EXPECT_EQ(ids.size(), want.size());
  EXPECT_TRUE(CursorReachesEnd());
}

TEST_F(KafkaExporterTest, FatalProducerErrorIsSurvivedByANewProducer) {
  // A refused producer id is fatal to an idempotent producer: only a new one
  // can send again.
  rd_kafka_mock_push_request_errors(cluster_, kInitProducerIdApiKey, 1,
                                    RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED);
  std::set<std::string> want = AppendSpans(3);
  StartExporter(Options());
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  for (const auto& id : want) EXPECT_GE(ids[id], 1) << id;
  EXPECT_EQ(ids.size(), want.size());
  EXPECT_TRUE(CursorReachesEnd());
  EXPECT_EQ(Counter("sluice_exporter_kafka_producers_recycled_total"), 1u);
}

TEST_F(KafkaExporterTest, MessageOverMaxMessageBytesIsDeadLetteredAndDoesNotBlock) {
  auto big = testing::MakeTraceRequest(3, 20, 1);
  ASSERT_GT(big.ByteSizeLong(), 1000u);
  Append(log::Signal::kTraces, big.SerializeAsString(), 60);
  auto small = testing::MakeTraceRequest(1, 1, 2);
  ASSERT_LT(small.ByteSizeLong(), 900u);
  Append(log::Signal::kTraces, small.SerializeAsString(), 1);
  StartExporter(Options("max_message_bytes: 1000"));
  auto got = ConsumeSpans(SpanIdsOf(small));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(SpanIds(got).size(), 1u);
  EXPECT_TRUE(CursorReachesEnd());
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 60u);
  // The message is kept in the dead-letter queue, topic as its route.
  auto dlq = DeadLetterQueue::Open(io::FileSystem::Posix(),
                                   DeadLetterQueue::DirectoryFor(dir_.path(), "kafka"), "kafka",
                                   1 << 30, nullptr);
  ASSERT_TRUE(dlq.ok());
  auto entries = (*dlq)->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].route, "otlp_spans");
  EXPECT_EQ((*entries)[0].items, 60u);
  auto kept = (*dlq)->Read((*entries)[0].id);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->body, big.SerializeAsString());
}

// The dead-letter queue is an undeliverable message's only place: a failed
// write of it is retried (and counted) until it succeeds, never dropped.
TEST_F(KafkaExporterTest, DeadLetterWhoseWriteFailsIsRetriedUntilWrittenNotDropped) {
  fault_fs_.FailWrites(io::FaultInjectionFileSystem::WriteFault::kEio, 3, "/dlq/");
  auto big = testing::MakeTraceRequest(3, 20, 1);
  Append(log::Signal::kTraces, big.SerializeAsString(), 60);
  auto small = testing::MakeTraceRequest(1, 1, 2);
  Append(log::Signal::kTraces, small.SerializeAsString(), 1);
  StartExporter(Options("max_message_bytes: 1000"));
  auto got = ConsumeSpans(SpanIdsOf(small));
  EXPECT_EQ(SpanIds(got).size(), 1u);
  EXPECT_TRUE(CursorReachesEnd());
  EXPECT_EQ(Counter("sluice_exporter_dead_letter_errors_total"), 3u);
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 60u);
  auto entries = DeadLetters();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].items, 60u);
}

// Stopped while the dead-letter queue cannot be written: the cursor stays
// before the message, so the next run gives it up, and writes it, again.
TEST_F(KafkaExporterTest, DeadLetterUnwrittenAtStopKeepsTheCursorBeforeItsMessage) {
  fault_fs_.FailWrites(io::FaultInjectionFileSystem::WriteFault::kEnospc, 1 << 30, "/dlq/");
  Append(log::Signal::kTraces, testing::MakeTraceRequest(3, 20, 1).SerializeAsString(), 60);
  const log::Position begin = log_->CursorOf("kafka");
  StartExporter(Options("max_message_bytes: 1000"));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return Counter("sluice_exporter_dead_letter_errors_total") >= 2; }));
  exporter_->Stop(std::chrono::steady_clock::now() + 100ms);
  exporter_.reset();
  EXPECT_EQ(log_->CursorOf("kafka"), begin);
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 0u);
  EXPECT_TRUE(DeadLetters().empty());

  fault_fs_.Heal();
  StartExporter(Options("max_message_bytes: 1000"));
  EXPECT_TRUE(CursorReachesEnd());
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 60u);
  EXPECT_EQ(DeadLetters().size(), 1u);
}

TEST_F(KafkaExporterTest, MessageTheBrokerRejectsAsTooLargeIsDeadLettered) {
  rd_kafka_mock_push_request_errors(cluster_, kProduceApiKey, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  Append(log::Signal::kTraces, testing::MakeTraceRequest(1, 3, 1).SerializeAsString(), 3);
  StartExporter(Options());
  ASSERT_TRUE(CursorReachesEnd());
  EXPECT_EQ(Counter("sluice_exporter_dead_lettered_items_total"), 3u);
  // The producer is still usable afterwards.
  std::set<std::string> want = AppendSpans(1, 7);
  auto got = ConsumeSpans(want);
  auto ids = SpanIds(got);
  for (const auto& id : want) EXPECT_EQ(ids[id], 1) << id;
  EXPECT_TRUE(CursorReachesEnd());
}

// What `sluice dlq replay` sends with: the topic is the dead letter's route.
TEST_F(KafkaExporterTest, ReplaySenderStillSendsWhereItWasToldAfterItsOptionsAreGone) {
  auto orphan = testing::SenderOutlivingItsOptions(
      KafkaExporterType(), BrokersYaml() + "timeout: 5s", "brokers: [127.0.0.1:1]\ntimeout: 200ms");
  auto req = testing::MakeTraceRequest(1, 2, 1);
  pipeline::SendResult result = orphan.sender->Send(
      testing::RequestOf(log::Signal::kTraces, req.SerializeAsString(), 2, "otlp_spans"));
  EXPECT_TRUE(result.ok()) << result.reason;
  auto got = ConsumeSpans(SpanIdsOf(req));
  EXPECT_EQ(SpanIds(got).size(), 2u);
}

// Splitting, without a broker.

TEST(KafkaSplitTest, SplitByTraceIdKeepsEverySpanWithItsResourceAndScope) {
  auto req = InterleavedTraces();
  std::vector<KeyedRequest> parts;
  ASSERT_TRUE(SplitByTraceId(req.SerializeAsString(), &parts).ok());
  ASSERT_EQ(parts.size(), 3u);
  std::map<std::string, std::string> scope_of_span;  // span id → resource service/scope name
  for (const auto& rs : req.resource_spans()) {
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& span : ss.spans()) {
        scope_of_span[span.span_id()] = rs.resource().attributes(0).value().string_value() + "/" +
                                        ss.scope().name() + "/" + ss.schema_url() + "/" +
                                        rs.schema_url();
      }
    }
  }
  size_t spans = 0;
  for (const auto& p : parts) {
    otlp_pb::collector::trace::v1::ExportTraceServiceRequest part;
    ASSERT_TRUE(part.ParseFromString(p.request));
    for (const auto& rs : part.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) {
        ASSERT_GT(ss.spans_size(), 0);
        for (const auto& span : ss.spans()) {
          ++spans;
          EXPECT_EQ(span.trace_id(), p.key);
          EXPECT_EQ(scope_of_span[span.span_id()],
                    rs.resource().attributes(0).value().string_value() + "/" + ss.scope().name() +
                        "/" + ss.schema_url() + "/" + rs.schema_url());
          EXPECT_EQ(span.attributes_size(), 2);
        }
      }
    }
  }
  EXPECT_EQ(spans, scope_of_span.size());
}

TEST(KafkaSplitTest, SplitByServiceGroupsResourcesOfOneService) {
  auto req = testing::MakeTraceRequest(3, 2, 1);
  req.mutable_resource_spans(2)
      ->mutable_resource()
      ->mutable_attributes(0)
      ->mutable_value()
      ->set_string_value("service-1-0");
  req.add_resource_spans()->add_scope_spans()->add_spans()->set_name("no service");
  std::vector<KeyedRequest> parts;
  ASSERT_TRUE(SplitByService(req.SerializeAsString(), &parts).ok());
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].key, "service-1-0");
  EXPECT_EQ(parts[1].key, "service-1-1");
  EXPECT_EQ(parts[2].key, "");
  otlp_pb::collector::trace::v1::ExportTraceServiceRequest first;
  ASSERT_TRUE(first.ParseFromString(parts[0].request));
  EXPECT_EQ(first.resource_spans_size(), 2);
}

TEST(KafkaSplitTest, MalformedRequestIsRefusedNotSplit) {
  std::vector<KeyedRequest> parts;
  EXPECT_FALSE(SplitByTraceId(std::string("\x0a\x05\x12\x03", 4), &parts).ok());
  EXPECT_FALSE(SplitByService(std::string("\x0a\x05\x12\x03", 4), &parts).ok());
  EXPECT_TRUE(parts.empty());
}

// Configuration.

TEST(KafkaOptionsTest, DefaultsFollowTheCollector) {
  config::Context ctx("test");
  KafkaOptions o = ParseOptions("{}", &ctx);
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(o.brokers, std::vector<std::string>{"localhost:9092"});
  EXPECT_EQ(o.traces.topic, "otlp_spans");
  EXPECT_EQ(o.metrics.topic, "otlp_metrics");
  EXPECT_EQ(o.logs.topic, "otlp_logs");
  EXPECT_EQ(o.partition_by, PartitionBy::kNone);
  EXPECT_EQ(o.acks, Acks::kAll);
  EXPECT_EQ(o.compression, Compression::kNone);
  EXPECT_EQ(o.max_message_bytes, 1'000'000u);
  EXPECT_EQ(o.connection_max_lifetime, std::chrono::minutes(30));
  auto docs = KafkaOptionsSchema().Document();
  EXPECT_EQ(docs[0].name, "brokers");
  EXPECT_EQ(docs[0].default_text, "[\"localhost:9092\"]");
}

TEST(KafkaOptionsTest, AcksAllEnablesTheIdempotentProducer) {
  auto props = [](const std::string& yaml) {
    config::Context ctx("test");
    KafkaOptions o = ParseOptions(yaml, &ctx);
    EXPECT_TRUE(ctx.ok()) << yaml;
    std::map<std::string, std::string> m;
    for (auto& [k, v] : ProducerProperties(o)) m[k] = v;
    return m;
  };
  EXPECT_EQ(props("acks: all")["enable.idempotence"], "true");
  EXPECT_EQ(props("acks: -1")["acks"], "all");
  EXPECT_EQ(props("acks: -1")["enable.idempotence"], "true");
  EXPECT_EQ(props("acks: 1")["acks"], "1");
  EXPECT_EQ(props("acks: 1")["enable.idempotence"], "false");
  EXPECT_EQ(props("acks: 0")["acks"], "0");
  auto p = props("compression: zstd\ntimeout: 2s\nmax_message_bytes: 2MiB\nbrokers: [a:1, b:2]");
  EXPECT_EQ(p["compression.type"], "zstd");
  EXPECT_EQ(p["message.timeout.ms"], "2000");
  EXPECT_EQ(p["message.max.bytes"], "2097152");
  EXPECT_EQ(p["bootstrap.servers"], "a:1,b:2");
}

TEST(KafkaOptionsTest, InvalidOptionsAreRejectedAtLoadNamingTheProblem) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  for (const auto& c : std::vector<Case>{
           {"compression: brotli", "brotli"},
           {"acks: 2", "\"2\""},
           {"partition_by: span", "span"},
           {"brokers: []", "brokers must name at least one broker"},
           {"brokers: [\"a:1,b:2\"]", "must be a single host:port"},
           {"traces: {topic: \"a b\"}", "traces.topic \"a b\" is not a valid Kafka topic"},
           {"logs: {topic: \"\"}", "logs.topic"},
           {"timeout: 0s", "out of range"},
           {"max_message_bytes: 10", "out of range"},
           {"connection_max_lifetime: 1ms", "out of range"},
           {"topic: spans", "unknown key \"topic\""},
       }) {
    config::Context ctx("test");
    ParseOptions(c.yaml, &ctx);
    ASSERT_FALSE(ctx.ok()) << c.yaml;
    EXPECT_NE(ctx.errors()[0].ToString().find(c.error), std::string::npos)
        << c.yaml << " → " << ctx.errors()[0].ToString();
  }
}

}  // namespace
}  // namespace sluice::exporters::kafka
