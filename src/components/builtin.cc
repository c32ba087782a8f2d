#include "components/builtin.h"

#include "backfill/replay.h"
#include "connectors/servicegraph/servicegraph_connector.h"
#include "connectors/spanmetrics/spanmetrics_connector.h"
#include "exporters/debug/debug_exporter.h"
#include "exporters/file/file_exporter.h"
#include "exporters/kafka/kafka_exporter.h"
#include "exporters/loki/loki_exporter.h"
#include "exporters/otlp/otlp_exporter.h"
#include "exporters/otlphttp/otlphttp_exporter.h"
#include "exporters/postgresql/postgresql_exporter.h"
#include "exporters/prometheus/prometheus_exporter.h"
#include "exporters/prometheusremotewrite/remote_write_exporter.h"
#include "log/options_schema.h"
#include "pipeline/extensions.h"
#include "pipeline/service_config.h"
#include "processors/accepted/accepted_processors.h"
#include "processors/attributes/attributes_processor.h"
#include "processors/cardinality/cardinality_limit_processor.h"
#include "processors/filter/filter_processor.h"
#include "processors/relabel/relabel_processor.h"
#include "processors/resource/resource_processor.h"
#include "processors/transform/transform_processor.h"
#include "query/query_module.h"
#include "receivers/otlp/otlp_receiver.h"
#include "receivers/postgresql/postgresql_receiver.h"
#include "receivers/prometheus/prometheus_receiver.h"
#include "receivers/prometheus_remote_write/remote_write_receiver.h"

namespace sluice::components {

const pipeline::Catalog& BuiltinCatalog() {
  static const pipeline::Catalog catalog = [] {
    using pipeline::Kind;
    pipeline::Catalog c;
    c.Add(Kind::kReceiver, "otlp", &receivers::otlp::OtlpReceiverType);
    c.Add(Kind::kReceiver, "prometheus_remote_write",
          &receivers::prometheus_remote_write::RemoteWriteReceiverType);
    c.Add(Kind::kReceiver, "prometheus", &receivers::prometheus::PrometheusReceiverType);
    c.Add(Kind::kReceiver, "postgresql", &receivers::postgresql::PostgresqlReceiverType);
    c.Add(Kind::kProcessor, "filter", &processors::filter::FilterProcessorType);
    c.Add(Kind::kProcessor, "attributes", &processors::attributes::AttributesProcessorType);
    c.Add(Kind::kProcessor, "resource", &processors::resource::ResourceProcessorType);
    c.Add(Kind::kProcessor, "transform", &processors::transform::TransformProcessorType);
    c.Add(Kind::kProcessor, "relabel", &processors::relabel::RelabelProcessorType);
    c.Add(Kind::kProcessor, "cardinality_limit",
          &processors::cardinality::CardinalityLimitProcessorType);
    c.Add(Kind::kProcessor, "batch", &processors::accepted::BatchProcessorType);
    c.Add(Kind::kProcessor, "memory_limiter", &processors::accepted::MemoryLimiterProcessorType);
    c.Add(Kind::kConnector, "servicegraph", &connectors::servicegraph::ServiceGraphConnectorType);
    c.Add(Kind::kConnector, "spanmetrics", &connectors::spanmetrics::SpanMetricsConnectorType);
    // Before the query module, which takes every other /api/ path.
    c.AddModule(backfill::ReplayModuleType());
    c.AddModule(query::QueryModuleType());
    c.Add(Kind::kExporter, "debug", &exporters::debug::DebugExporterType);
    c.Add(Kind::kExporter, "file", &exporters::file::FileExporterType);
    c.Add(Kind::kExporter, "kafka", &exporters::kafka::KafkaExporterType);
    c.Add(Kind::kExporter, "loki", &exporters::loki::LokiExporterType);
    c.Add(Kind::kExporter, "otlp", &exporters::otlp::OtlpGrpcExporterType);
    c.Add(Kind::kExporter, "otlphttp", &exporters::otlphttp::OtlpHttpExporterType);
    c.Add(Kind::kExporter, "postgresql", &exporters::postgresql::PostgresqlExporterType);
    c.Add(Kind::kExporter, "prometheusremotewrite", &exporters::prw::RemoteWriteExporterType);
    c.Add(Kind::kExporter, "prometheus", &exporters::prometheus::PrometheusExporterType);
    return c;
  }();
  return catalog;
}

std::string ConfigurationReference() {
  const std::string kHeader =
      "| key | type | default | bounds | description |\n|---|---|---|---|---|\n";
  std::string out;
  out += "### storage\n\n" + kHeader + config::RenderMarkdown(log::LogOptionsSchema().Document()) +
         "\n";
  out += "### service\n\n" + kHeader +
         config::RenderMarkdown(pipeline::ServiceOptionsSchema().Document()) +
         "| `pipelines` | map | | | `traces`, `metrics`, `logs` or `<signal>/<name>`, each with "
         "`receivers`, `processors`, `exporters` lists. |\n"
         "| `extensions` | list | `[]` | | The extensions (defined under the top-level "
         "`extensions:`) that run. |\n\n";
  out += "### extensions\n\n" + pipeline::ExtensionsReference() + "\n";
  for (const auto& m : BuiltinCatalog().modules()) {
    out += "### " + m.key + "\n\n" + m.doc + "\n\n" + kHeader +
           config::RenderMarkdown(m.document()) + "\n";
  }
  for (const pipeline::ComponentType* t : BuiltinCatalog().types()) {
    out += "### " + std::string(pipeline::KindName(t->kind)) + " `" + t->type + "`\n\n" + t->doc +
           "\n\n" + kHeader + config::RenderMarkdown(t->document()) + "\n";
  }
  return out;
}

}  // namespace sluice::components
