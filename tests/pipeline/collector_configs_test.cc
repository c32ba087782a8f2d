// Collector configurations, written after the OpenTelemetry Collector's
// documentation examples for the components sluice has, load unchanged:
// no errors, and `sluice validate`'s verdict for every component is
// "unchanged" or "accepted with a different meaning".

#include <gtest/gtest.h>

#include "components/builtin.h"
#include "pipeline/compat.h"
#include "pipeline/service_config.h"

namespace sluice::pipeline {
namespace {

struct Verdicts {
  std::vector<std::string> errors;
  std::vector<ComponentVerdict> verdicts;
};

Verdicts Load(const std::string& yaml) {
  config::Context ctx("collector.yaml");
  Verdicts out;
  std::optional<YAML::Node> root = config::LoadString(yaml, ctx);
  if (root) {
    ParseServiceConfig(*root, ctx, components::BuiltinCatalog());
    out.verdicts = ClassifyComponents(*root, ctx.errors(), components::BuiltinCatalog());
  }
  for (const auto& e : ctx.errors()) out.errors.push_back(e.ToString());
  return out;
}

std::string Of(const Verdicts& v, const std::string& id) {
  for (const auto& c : v.verdicts) {
    if (c.id != id) continue;
    switch (c.kind) {
      case ComponentVerdict::Kind::kUnchanged:
        return "unchanged";
      case ComponentVerdict::Kind::kDifferentMeaning:
        return "different";
      case ComponentVerdict::Kind::kUnsupported:
        return "unsupported";
    }
  }
  return "absent";
}

void ExpectLoads(const char* name, const std::string& yaml) {
  Verdicts v = Load(yaml);
  std::string all;
  for (const auto& e : v.errors) all += e + "\n";
  EXPECT_TRUE(v.errors.empty()) << name << ":\n" << all;
  for (const auto& c : v.verdicts) {
    EXPECT_NE(c.kind, ComponentVerdict::Kind::kUnsupported)
        << name << ": " << c.id << " " << c.note;
  }
}

const char* kTypical = R"y(
extensions:
  health_check:
  pprof:
    endpoint: localhost:1777
  zpages:
    endpoint: localhost:55679
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 4000
    spike_limit_mib: 800
  batch:
    send_batch_size: 10000
    timeout: 10s
exporters:
  otlphttp:
    endpoint: https://otlp.example.com:4318
  prometheusremotewrite:
    endpoint: https://prometheus.example.com/api/v1/write
    resource_to_telemetry_conversion:
      enabled: true
  debug:
    verbosity: detailed
    sampling_initial: 5
    sampling_thereafter: 200
service:
  extensions: [health_check, pprof, zpages]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlphttp, debug]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [prometheusremotewrite]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlphttp, debug]
)y";

TEST(CollectorConfigsTest, TypicalCollectorConfigurationLoadsWithoutEdits) {
  ExpectLoads("typical", kTypical);
  Verdicts v = Load(kTypical);
  EXPECT_EQ(Of(v, "otlp"), "unchanged");
  EXPECT_EQ(Of(v, "prometheusremotewrite"), "unchanged");
  EXPECT_EQ(Of(v, "debug"), "unchanged");
  EXPECT_EQ(Of(v, "batch"), "different");
  EXPECT_EQ(Of(v, "memory_limiter"), "different");
  EXPECT_EQ(Of(v, "health_check"), "different") << "answered on the admin port";
  EXPECT_EQ(Of(v, "pprof"), "different");
}

TEST(CollectorConfigsTest, ProcessorDocumentationExamplesLoad) {
  // filter, after the filter processor's README.
  ExpectLoads("filter", R"y(
receivers:
  otlp:
    protocols:
      http:
processors:
  filter/ottl:
    error_mode: ignore
    traces:
      span:
        - 'attributes["container.name"] == "app_container_1"'
        - 'resource.attributes["host.name"] == "localhost"'
        - 'name == "app_3"'
      spanevent:
        - 'attributes["grpc"] == true'
        - 'IsMatch(name, ".*grpc.*")'
    metrics:
      metric:
        - 'name == "my.metric" and resource.attributes["my_label"] == "abc123"'
        - 'type == METRIC_DATA_TYPE_HISTOGRAM'
      datapoint:
        - 'metric.type == METRIC_DATA_TYPE_SUMMARY'
        - 'resource.attributes["service.name"] == "my_service_name"'
    logs:
      log_record:
        - 'IsMatch(body, ".*password.*")'
        - 'severity_number < SEVERITY_NUMBER_WARN'
exporters:
  debug:
service:
  pipelines:
    traces: {receivers: [otlp], processors: [filter/ottl], exporters: [debug]}
    metrics: {receivers: [otlp], processors: [filter/ottl], exporters: [debug]}
    logs: {receivers: [otlp], processors: [filter/ottl], exporters: [debug]}
)y");
  // attributes, after the attributes processor's README.
  ExpectLoads("attributes", R"y(
receivers:
  otlp:
    protocols:
      grpc:
processors:
  attributes/example:
    actions:
      - key: db.table
        action: delete
      - key: redacted_span
        value: true
        action: upsert
      - key: copy_key
        from_attribute: key_original
        action: update
      - key: account_id
        value: 2245
        action: insert
      - key: account_password
        action: delete
      - key: account_email
        action: hash
      - key: http.status_code
        action: convert
        converted_type: int
  attributes/regex:
    include:
      match_type: regexp
      services: ["auth.*"]
      span_names: ["login.*"]
    actions:
      - key: http.url
        pattern: ^(?P<http_protocol>.*):\/\/(?P<http_domain>.*)\/(?P<http_path>.*)(\?|\&)(?P<http_query_params>.*)
        action: extract
  attributes/strict:
    include:
      match_type: strict
      services: ["svcA", "svcB"]
      attributes:
        - key: env
          value: "prod"
    exclude:
      match_type: strict
      span_names: ["healthcheck"]
    actions:
      - key: credit_card
        action: delete
exporters:
  otlp:
    endpoint: collector.example.com:4317
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [attributes/example, attributes/regex, attributes/strict]
      exporters: [otlp]
)y");
  // resource and transform, after their READMEs.
  ExpectLoads("resource and transform", R"y(
receivers:
  otlp:
    protocols:
      http:
processors:
  resource:
    attributes:
      - key: cloud.availability_zone
        value: "zone-1"
        action: upsert
      - key: k8s.cluster.name
        from_attribute: k8s-cluster
        action: insert
      - key: redundant-attribute
        action: delete
  transform:
    error_mode: ignore
    trace_statements:
      - context: resource
        statements:
          - keep_keys(attributes, ["service.name", "service.namespace", "cloud.region", "process.command_line"])
          - replace_pattern(attributes["process.command_line"], "password\\=[^\\s]*(\\s?)", "password=***")
          - limit(attributes, 100, [])
          - truncate_all(attributes, 4096)
      - context: span
        statements:
          - set(status.code, 1) where attributes["http.path"] == "/health"
          - set(name, attributes["http.route"])
          - replace_all_patterns(attributes, "value", "password\\=[^\\s]*(\\s?)", "password=***")
          - limit(attributes, 100, [])
          - truncate_all(attributes, 4096)
    metric_statements:
      - context: resource
        statements:
          - keep_keys(attributes, ["host.name"])
          - truncate_all(attributes, 4096)
      - context: metric
        statements:
          - set(description, "Sum") where type == "Sum"
      - context: datapoint
        statements:
          - limit(attributes, 100, ["host.name"])
          - truncate_all(attributes, 4096)
    log_statements:
      - context: resource
        statements:
          - keep_keys(attributes, ["service.name", "service.namespace", "cloud.region"])
      - context: log
        statements:
          - set(severity_text, "FAIL") where body == "request failed"
          - replace_all_patterns(attributes, "value", "/account/\\d{4}", "/account/{accountId}")
          - set(body, attributes["http.route"])
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:4318
service:
  pipelines:
    traces: {receivers: [otlp], processors: [resource, transform], exporters: [otlphttp]}
    metrics: {receivers: [otlp], processors: [resource, transform], exporters: [otlphttp]}
    logs: {receivers: [otlp], processors: [resource, transform], exporters: [otlphttp]}
)y");
}

TEST(CollectorConfigsTest, ExtensionErrorsAndVerdictsNameThePlace) {
  Verdicts v = Load(R"y(
extensions:
  health_check:
    endpoint: 127.0.0.1:13133
    cors: {}
  oauth2client:
    client_id: x
receivers:
  otlp:
    protocols:
      http:
processors:
  groupbytrace:
exporters:
  debug:
service:
  extensions: [health_check, zpages]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
)y");
  std::string all;
  for (const auto& e : v.errors) all += e + "\n";
  EXPECT_NE(all.find("collector.yaml:5:5: extension health_check: cors is not supported on the "
                     "health endpoint"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("collector.yaml:6:3: unknown extension type \"oauth2client\"; known types: "
                     "health_check, pprof, zpages"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("unknown processor type \"groupbytrace\""), std::string::npos);
  EXPECT_NE(all.find("service.extensions: \"zpages\" is not defined under extensions"),
            std::string::npos);
  EXPECT_EQ(Of(v, "health_check"), "unsupported");
  EXPECT_EQ(Of(v, "oauth2client"), "unsupported");
  EXPECT_EQ(Of(v, "groupbytrace"), "unsupported");
  EXPECT_EQ(Of(v, "otlp"), "unchanged");
  EXPECT_EQ(Of(v, "debug"), "unchanged");
}

}  // namespace
}  // namespace sluice::pipeline
