#include "processors/resource/resource_processor.h"

#include "wire/otlp/common.h"
#include "wire/otlp/edit.h"

namespace sluice::processors::resource {

const config::Schema<ResourceOptions>& ResourceOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<ResourceOptions>("resource processor");
    s->Custom("attributes", "list", "(required)",
              "Actions on resource attributes, in order, as the attributes processor's "
              "`actions` (insert, update, upsert, delete, hash, extract, convert).",
              [](const YAML::Node& n, ResourceOptions* o, config::Context& ctx) {
                attributes::ParseActions(n, ctx, &o->attributes);
              })
        .Required();
    return s;
  }();
  return *schema;
}

ResourceProcessor::ResourceProcessor(const std::string& id, const ResourceOptions& options,
                                     telemetry::Registry& registry)
    : options_(options),
      changed_(registry
                   .AddCounter("sluice_processor_resource_changed_resources_total",
                               "Resources whose attributes a resource processor changed.",
                               {"processor"})
                   .With({id})) {}

Status ResourceProcessor::Process(const Input& in, Output* out) const {
  if (in.encoding != log::Encoding::kOtlpProto) return Status::Ok();
  uint64_t changed_resources = 0;
  wire::otlp::RequestEditor editor;
  editor.resource = [&](std::string_view resource, wire::otlp::BlockEdit* edit) {
    auto attrs = wire::otlp::AttributeMap::Decode(resource, wire::otlp::field::kResourceAttributes);
    if (attributes::ApplyActions(options_.attributes, &attrs)) {
      edit->replace = true;
      edit->bytes =
          wire::otlp::ReplaceAttributes(resource, wire::otlp::field::kResourceAttributes, attrs);
      ++changed_resources;
    }
    return Status::Ok();
  };
  bool changed = false;
  SLUICE_RETURN_IF_ERROR(wire::otlp::EditRequest(in.payload, editor, &out->payload, &changed));
  changed_.Inc(changed_resources);
  if (!changed) return Status::Ok();
  out->changed = true;
  out->items = in.items;
  return Status::Ok();
}

pipeline::ComponentType ResourceProcessorType() {
  return pipeline::MakeProcessorType(
      "resource",
      "Inserts, updates, deletes, hashes, extracts and converts resource attributes (the "
      "OpenTelemetry Collector's resource processor).",
      {log::Signal::kTraces, log::Signal::kLogs, log::Signal::kMetrics}, ResourceOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const ResourceOptions& o,
         pipeline::Runtime& rt) -> Result<std::shared_ptr<const pipeline::Processor>> {
        return std::shared_ptr<const pipeline::Processor>(
            std::make_shared<ResourceProcessor>(s.id, o, rt.metrics));
      });
}

}  // namespace sluice::processors::resource
