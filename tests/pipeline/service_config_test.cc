#include "pipeline/service_config.h"

#include <gtest/gtest.h>

#include "components/builtin.h"
#include "receivers/otlp/otlp_receiver.h"

namespace sluice::pipeline {
namespace {

struct Loaded {
  std::optional<ServiceConfig> config;
  std::vector<std::string> errors;
};

Loaded Parse(const std::string& yaml) {
  config::Context ctx("sluice.yaml");
  Loaded out;
  std::optional<YAML::Node> root = config::LoadString(yaml, ctx);
  if (root) out.config = ParseServiceConfig(*root, ctx, components::BuiltinCatalog());
  for (auto e : ctx.errors()) {
    e.where.file = "sluice.yaml";
    out.errors.push_back(e.ToString());
  }
  return out;
}

const char* kValid = R"(
receivers:
  otlp:
    protocols:
      http:
exporters:
  file:
    path: /tmp/x.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
)";

TEST(ServiceConfigTest, EmbeddedDefaultListensOnLoopbackAndKeepsDataUnderDotData) {
  config::Context ctx("default");
  auto cfg = LoadServiceConfig("", ctx, components::BuiltinCatalog());
  ASSERT_TRUE(cfg.has_value()) << ctx.errors()[0].ToString();
  ASSERT_EQ(cfg->receivers.size(), 1u);
  const auto* otlp =
      static_cast<const receivers::otlp::OtlpOptions*>(cfg->receivers[0].options.get());
  ASSERT_TRUE(otlp->protocols.http.has_value());
  EXPECT_EQ(otlp->protocols.http->endpoint, "127.0.0.1:4318");
  EXPECT_EQ(cfg->storage.directory, "./data");
  EXPECT_EQ(cfg->service.telemetry.metrics.address, "127.0.0.1:8888");
  // Every signal has a pipeline (none is answered 404), and the traces feed
  // both connectors, whose metrics have a pipeline of their own.
  std::vector<std::string> pipelines;
  for (const auto& p : cfg->pipelines) pipelines.push_back(p.name);
  EXPECT_EQ(pipelines, (std::vector<std::string>{"traces", "metrics", "logs", "metrics/derived"}));
  EXPECT_EQ(cfg->pipelines[0].exporters, (std::vector<std::string>{"spanmetrics", "servicegraph"}));
  EXPECT_EQ(cfg->pipelines[3].receivers, (std::vector<std::string>{"spanmetrics", "servicegraph"}));
  ASSERT_EQ(cfg->connectors.size(), 2u);
}

TEST(ServiceConfigTest, ExampleConfigLoads) {
  config::Context ctx(SLUICE_EXAMPLES_DIR "/sluice.yaml");
  auto cfg =
      LoadServiceConfig(SLUICE_EXAMPLES_DIR "/sluice.yaml", ctx, components::BuiltinCatalog());
  ASSERT_TRUE(cfg.has_value()) << ctx.errors()[0].ToString();
  EXPECT_EQ(cfg->exporters.size(), 1u);
  EXPECT_EQ(cfg->storage.fsync, log::FsyncPolicy::kInterval);
}

TEST(ServiceConfigTest, ValidConfigHasNoErrors) {
  Loaded l = Parse(kValid);
  EXPECT_TRUE(l.errors.empty()) << l.errors[0];
  ASSERT_TRUE(l.config.has_value());
  auto refs = l.config->PipelinesOf(Kind::kExporter, "file");
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].id, log::PipelineId("traces"));
}

TEST(ServiceConfigTest, PipelineNamingAnUndefinedComponentListsTheDefinedOnes) {
  Loaded l = Parse(R"(
receivers:
  otlp:
    protocols:
      http:
  otlp/2:
    protocols:
      http:
service:
  pipelines:
    traces:
      receivers: [otlp, otlp/3]
)");
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0],
            "sluice.yaml:12:25: pipeline traces: receiver \"otlp/3\" is not defined under "
            "receivers; defined: otlp, otlp/2");
}

TEST(ServiceConfigTest, UnknownComponentTypeListsTheKnownTypes) {
  Loaded l = Parse("exporters:\n  kafkaa:\n    brokers: []\nservice:\n  pipelines: {}\n");
  ASSERT_FALSE(l.errors.empty());
  EXPECT_EQ(l.errors[0],
            "sluice.yaml:2:3: unknown exporter type \"kafkaa\"; known types: debug, file, kafka, "
            "loki, otlp, otlphttp, postgresql, prometheusremotewrite, prometheus");
}

TEST(ServiceConfigTest, UnknownKeysAtEveryLevelAreReported) {
  Loaded l = Parse(R"(
receivers:
  otlp:
    protocols:
      http:
        endpiont: 127.0.0.1:1
storage:
  fsync: sometimes
extension: {}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporter: [file]
)");
  ASSERT_EQ(l.errors.size(), 4u);
  EXPECT_EQ(l.errors[0],
            "sluice.yaml:9:1: unknown top-level key \"extension\"; valid keys: receivers, "
            "processors, exporters, connectors, extensions, storage, service, replay, query");
  EXPECT_NE(l.errors[1].find("sluice.yaml:6:9: otlp.protocols.http: unknown key \"endpiont\""),
            std::string::npos);
  EXPECT_EQ(
      l.errors[2],
      "sluice.yaml:8:10: invalid value \"sometimes\"; valid choices: always, interval, never");
  EXPECT_EQ(l.errors[3],
            "sluice.yaml:14:7: pipeline traces: unknown key \"exporter\"; valid keys: receivers, "
            "processors, exporters");
}

TEST(ServiceConfigTest, ComponentInAPipelineOfASignalItDoesNotSupportIsAnError) {
  Loaded l = Parse(R"(
receivers:
  otlp:
    protocols:
      http:
exporters:
  loki:
    endpoint: http://loki:3100/loki/api/v1/push
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loki]
)");
  ASSERT_EQ(l.errors.size(), 1u);  // otlp takes traces; the loki exporter sends logs only
  EXPECT_NE(l.errors[0].find("exporter \"loki\" does not support traces"), std::string::npos)
      << l.errors[0];
}

TEST(ServiceConfigTest, ConnectorMustJoinAPipelineOfItsInputToOneOfItsOutput) {
  Loaded l = Parse(R"(
receivers:
  otlp:
    protocols:
      http:
connectors:
  spanmetrics:
  spanmetrics/2:
exporters:
  file:
    path: /tmp/x.jsonl
service:
  pipelines:
    traces:
      receivers: [otlp, spanmetrics/2]
      exporters: [spanmetrics]
    logs:
      receivers: [otlp]
      exporters: [spanmetrics/2]
)");
  std::string all;
  for (const auto& e : l.errors) all += e + "\n";
  EXPECT_NE(all.find("pipeline traces: connector \"spanmetrics/2\" as a receiver does not "
                     "support traces"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("pipeline logs: connector \"spanmetrics/2\" as an exporter does not "
                     "support logs"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("sluice.yaml:7:3: connector spanmetrics is an exporter of a pipeline but no "
                     "pipeline's receiver"),
            std::string::npos)
      << all;
}

TEST(ServiceConfigTest, MissingRequiredKeyAndBadPipelineNameAreErrors) {
  Loaded l = Parse(R"(
receivers:
  otlp:
    protocols:
      http:
exporters:
  file:
    rotation:
      max_backups: -1
service:
  pipelines:
    spans:
      receivers: [otlp]
    traces:
      exporters: [file]
)");
  ASSERT_EQ(l.errors.size(), 4u) << l.errors[0];
  EXPECT_NE(l.errors[0].find("sluice.yaml:9:20: value -1 is out of range"), std::string::npos);
  EXPECT_NE(l.errors[1].find("sluice.yaml:8:5: file: missing required key \"path\""),
            std::string::npos);
  EXPECT_NE(l.errors[2].find("sluice.yaml:12:5: pipeline \"spans\": the name must start with"),
            std::string::npos);
  EXPECT_NE(l.errors[3].find("pipeline traces: at least one receiver is required"),
            std::string::npos);
}

TEST(ServiceConfigTest, MissingServiceSectionIsAnError) {
  Loaded l = Parse("receivers: {}\n");
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].find("a service section with pipelines is required"), std::string::npos);
}

}  // namespace
}  // namespace sluice::pipeline
