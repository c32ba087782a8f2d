#include "exporters/loki/loki_exporter.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <mutex>
#include <thread>

#include "loki/push.pb.h"
#include "support/fault_backend.h"
#include "support/http_client.h"
#include "support/otlp_builders.h"
#include "support/sender_options.h"
#include "support/service_harness.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "wire/compression.h"

namespace sluice::exporters::loki {
namespace {

using testing::Fault;
using LogsRequest = testing::otlp_pb::collector::logs::v1::ExportLogsServiceRequest;

// What a Loki would store: stream label set (as "k=v,k=v") → (ts, line) in
// arrival order.
class FakeLoki {
 public:
  void Push(const testing::BackendRequest& r) {
    if (r.Header("content-type") == "application/x-protobuf") return PushProtobuf(r);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::lock_guard<std::mutex> lock(mu_);
    if (r.path != "/loki/api/v1/push" || r.Header("content-type") != "application/json" ||
        parser.parse(r.body).get(doc) != simdjson::SUCCESS) {
      ++bad_;
      return;
    }
    for (auto stream : doc["streams"].get_array()) {
      std::string key;
      for (auto field : stream["stream"].get_object()) {
        if (!key.empty()) key += ",";
        key += std::string(field.key) + "=" + std::string(field.value.get_string().value());
      }
      for (auto value : stream["values"].get_array()) {
        auto pair = value.get_array();
        streams_[key].emplace_back(std::stoll(std::string(pair.at(0).get_string().value())),
                                   std::string(pair.at(1).get_string().value()));
      }
    }
  }
  // A snappy-compressed logproto.PushRequest, as Loki's clients send it.
  void PushProtobuf(const testing::BackendRequest& r) {
    std::string raw;
    logproto::PushRequest req;
    std::lock_guard<std::mutex> lock(mu_);
    if (r.path != "/loki/api/v1/push" || !r.Header("content-encoding").empty() ||
        !wire::Decompress(wire::Compression::kSnappyBlock, r.body, 64 << 20, &raw).ok() ||
        !req.ParseFromString(raw)) {
      ++bad_;
      return;
    }
    for (const auto& stream : req.streams()) {
      std::string key;
      if (!SelectorKey(stream.labels(), &key)) {
        ++bad_;
        continue;
      }
      for (const auto& e : stream.entries()) {
        streams_[key].emplace_back(e.timestamp().seconds() * 1'000'000'000 + e.timestamp().nanos(),
                                   e.line());
      }
    }
  }

  // {a="x", b="y\"z"} → a=x,b=y"z (the JSON path's key form).
  static bool SelectorKey(const std::string& s, std::string* key) {
    if (s.size() < 2 || s.front() != '{' || s.back() != '}') return false;
    size_t i = 1;
    while (i < s.size() - 1) {
      size_t eq = s.find('=', i);
      if (eq == std::string::npos || eq + 1 >= s.size() || s[eq + 1] != '"') return false;
      if (!key->empty()) *key += ",";
      *key += s.substr(i, eq - i) + "=";
      size_t j = eq + 2;
      for (; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] != '\\') {
          *key += s[j];
          continue;
        }
        char c = s[++j];
        *key += c == 'n' ? '\n' : c == 't' ? '\t' : c;
      }
      if (j >= s.size()) return false;
      i = j + 1;
      if (s.compare(i, 2, ", ") == 0) i += 2;
    }
    return true;
  }

  std::map<std::string, std::vector<std::pair<int64_t, std::string>>> streams() const {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_;
  }
  size_t entries() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [k, v] : streams_) n += v.size();
    return n;
  }
  int bad() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::pair<int64_t, std::string>>> streams_;
  int bad_ = 0;
};

class LokiExporterTest : public ::testing::Test {
 protected:
  void StartSluice(const std::string& extra) {
    ASSERT_TRUE(backend_.Start());
    std::string yaml = R"(
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
exporters:
  loki:
    endpoint: )" + backend_.url() +
                       R"(/loki/api/v1/push
    retry_on_failure:
      initial_interval: 10ms
      max_interval: 50ms
)" + extra + R"(
storage:
  directory: )" + dir_.path() +
                       R"(
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    logs:
      receivers: [otlp]
      exporters: [loki]
)";
    service_ = testing::StartService(yaml, registry_);
    ASSERT_NE(service_, nullptr);
    receiver_ = testing::AddressOf(*service_, "receiver otlp http ");
  }
  void TearDown() override {
    if (service_) service_->Shutdown();
  }
  void Post(const LogsRequest& req) {
    auto r = testing::HttpRequest("POST", receiver_, "/v1/logs", req.SerializeAsString(),
                                  {{"Content-Type", "application/x-protobuf"}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  bool WaitForEntries(size_t n) {
    return testing::WaitUntil([&] { return loki_.entries() >= n; });
  }

  testing::TempDir dir_;
  FakeLoki loki_;
  std::function<Fault()> decide_ = [] { return Fault{}; };
  testing::FaultBackend backend_{[this](const testing::BackendRequest&) { return decide_(); },
                                 [this](const testing::BackendRequest& r) { loki_.Push(r); }};
  telemetry::Registry registry_;
  std::unique_ptr<pipeline::Service> service_;
  std::string receiver_;
};

// The same streams and entries whichever push encoding carries them.
class LokiEncodingTest : public LokiExporterTest,
                         public ::testing::WithParamInterface<const char*> {};

TEST_P(LokiEncodingTest, StreamsAreLabelledFromResourceAndAttributesWithEntriesInTimeOrder) {
  StartSluice(std::string(R"(    attribute_labels: {env: environment}
    severity_label: true
    encoding: )") +
              GetParam() + "\n");
  LogsRequest req = testing::MakeLogsRequest(6, 3);
  auto* records = req.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records();
  // Out of order on the wire; two environments.
  for (int i = 0; i < records->size(); ++i) {
    auto* rec = records->Mutable(i);
    rec->set_time_unix_nano(1'000'000'000ull * static_cast<uint64_t>(100 - i));
    auto* a = rec->add_attributes();
    a->set_key("env");
    a->mutable_value()->set_string_value(i % 2 == 0 ? "prod" : "dev");
  }
  records->Mutable(5)->set_severity_text("");
  records->Mutable(5)->set_severity_number(testing::otlp_pb::logs::v1::SEVERITY_NUMBER_ERROR);
  Post(req);
  ASSERT_TRUE(WaitForEntries(6));
  EXPECT_EQ(loki_.bad(), 0);
  auto streams = loki_.streams();
  ASSERT_EQ(streams.size(), 3u);
  auto& prod = streams["environment=prod,level=info,service_name=logs-3"];
  auto& dev = streams["environment=dev,level=info,service_name=logs-3"];
  auto& error = streams["environment=dev,level=error,service_name=logs-3"];
  ASSERT_EQ(prod.size(), 3u);
  ASSERT_EQ(dev.size(), 2u);
  ASSERT_EQ(error.size(), 1u);
  for (const auto* s : {&prod, &dev}) {
    for (size_t i = 1; i < s->size(); ++i) EXPECT_LT((*s)[i - 1].first, (*s)[i].first);
  }
  // The line is a JSON object with the record's content.
  simdjson::dom::parser parser;
  simdjson::dom::element line = parser.parse(prod[0].second);
  EXPECT_EQ(std::string(line["body"].get_string().value()), "message 3004");
  EXPECT_EQ(std::string(line["severity"].get_string().value()), "INFO");
  EXPECT_EQ(int64_t(line["attributes"]["line"].get_int64().value()), 3004);
  EXPECT_EQ(std::string(line["resources"]["service.name"].get_string().value()), "logs-3");
  EXPECT_EQ(std::string(line["traceid"].get_string().value()).size(), 32u);
}

INSTANTIATE_TEST_SUITE_P(Encodings, LokiEncodingTest, ::testing::Values("json", "protobuf"));

TEST_F(LokiExporterTest, ProtobufSelectorQuotesLabelValues) {
  StartSluice("    attribute_labels: {env: environment}\n    encoding: protobuf\n");
  LogsRequest req = testing::MakeLogsRequest(1, 4);
  auto* a =
      req.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records(0)->add_attributes();
  a->set_key("env");
  a->mutable_value()->set_string_value("say \"hi\"\\\n");
  Post(req);
  ASSERT_TRUE(WaitForEntries(1));
  EXPECT_EQ(loki_.bad(), 0);
  auto streams = loki_.streams();
  ASSERT_EQ(streams.size(), 1u);
  EXPECT_EQ(streams.begin()->first, "environment=say \"hi\"\\\n,service_name=logs-4");
}

TEST_F(LokiExporterTest, RawFormatSendsTheBodyAlone) {
  StartSluice("    format: raw\n    gzip: false\n");
  Post(testing::MakeLogsRequest(2, 9));
  ASSERT_TRUE(WaitForEntries(2));
  auto streams = loki_.streams();
  ASSERT_EQ(streams.size(), 1u);
  auto& entries = streams.begin()->second;
  EXPECT_EQ(streams.begin()->first, "service_name=logs-9");
  EXPECT_EQ(entries[0].second, "message 9000");
  EXPECT_EQ(entries[1].second, "message 9001");
}

TEST_F(LokiExporterTest, EveryEntryArrivesThroughRateLimitsAndServerErrors) {
  std::atomic<int> n{0};
  decide_ = [&] {
    Fault f;
    int i = n.fetch_add(1);
    if (i % 3 == 0) {
      f.kind = Fault::Kind::kStatus;
      f.status = 429;
      f.retry_after = "0";
    } else if (i % 3 == 1) {
      f.kind = Fault::Kind::kStatus;
      f.status = 502;
    }
    return f;
  };
  StartSluice("    max_request_bytes: 2KiB\n");
  for (int i = 0; i < 20; ++i) Post(testing::MakeLogsRequest(10, 100 + i));
  ASSERT_TRUE(WaitForEntries(200)) << loki_.entries();
  EXPECT_EQ(loki_.entries(), 200u);
}

TEST_F(LokiExporterTest, SenderStillSendsWhereItWasToldAfterItsOptionsAreGone) {
  ASSERT_TRUE(backend_.Start());
  auto orphan = testing::SenderOutlivingItsOptions(
      LokiExporterType(), "endpoint: " + backend_.url() + "/loki/api/v1/push",
      "endpoint: http://127.0.0.1:1/loki/api/v1/push");
  pipeline::SendResult result = orphan.sender->Send(testing::RequestOf(
      log::Signal::kLogs, R"({"streams":[{"stream":{"job":"a"},"values":[["1","line"]]}]})", 1));
  EXPECT_TRUE(result.ok()) << result.reason;
  EXPECT_EQ(backend_.requests(), 1u);
}

TEST(LokiOptionsTest, InvalidLabelNameIsAConfigError) {
  config::Context ctx("test.yaml");
  auto node = config::LoadString(
      "endpoint: http://loki:3100/loki/api/v1/push\nresource_labels: {service.name: service.name}",
      ctx);
  ASSERT_TRUE(node);
  LokiOptions o;
  LokiOptionsSchema().Parse(*node, &o, ctx);
  ASSERT_EQ(ctx.errors().size(), 1u);
  EXPECT_NE(ctx.errors()[0].ToString().find("not a valid Loki label name"), std::string::npos);
}

}  // namespace
}  // namespace sluice::exporters::loki
