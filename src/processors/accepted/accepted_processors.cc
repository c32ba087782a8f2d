#include "processors/accepted/accepted_processors.h"

#include "base/logging.h"

namespace sluice::processors::accepted {

const config::Schema<BatchOptions>& BatchOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<BatchOptions>("batch processor");
    s->Int("send_batch_size", &BatchOptions::send_batch_size,
           "Accepted; exporters size their requests (`max_request_bytes`).", {0, {}})
        .Int("send_batch_max_size", &BatchOptions::send_batch_max_size,
             "Accepted; must be 0 or at least send_batch_size, as in the Collector.", {0, {}})
        .Duration("timeout", &BatchOptions::timeout,
                  "Accepted; exporters wait `linger` for more data.")
        .StringList("metadata_keys", &BatchOptions::metadata_keys,
                    "Accepted; sluice keeps no client metadata.")
        .Int("metadata_cardinality_limit", &BatchOptions::metadata_cardinality_limit, "Accepted.",
             {0, {}})
        .Check([](const BatchOptions& o) -> std::string {
          if (o.send_batch_max_size != 0 && o.send_batch_max_size < o.send_batch_size) {
            return "send_batch_max_size must be 0 or at least send_batch_size";
          }
          return "";
        });
    return s;
  }();
  return *schema;
}

const config::Schema<MemoryLimiterOptions>& MemoryLimiterOptionsSchema() {
  static const auto* schema = [] {
    auto* s = new config::Schema<MemoryLimiterOptions>("memory_limiter processor");
    s->Duration("check_interval", &MemoryLimiterOptions::check_interval, "Accepted.")
        .Int("limit_mib", &MemoryLimiterOptions::limit_mib,
             "Accepted; `service.max_in_flight_bytes` bounds what receivers hold.", {0, {}})
        .Int("spike_limit_mib", &MemoryLimiterOptions::spike_limit_mib, "Accepted.", {0, {}})
        .Int("limit_percentage", &MemoryLimiterOptions::limit_percentage, "Accepted.", {0, 100})
        .Int("spike_limit_percentage", &MemoryLimiterOptions::spike_limit_percentage, "Accepted.",
             {0, 100})
        .Check([](const MemoryLimiterOptions& o) -> std::string {
          if (o.limit_mib == 0 && o.limit_percentage == 0) {
            return "set limit_mib or limit_percentage (the Collector requires one)";
          }
          if (o.limit_mib != 0 && o.spike_limit_mib >= o.limit_mib) {
            return "spike_limit_mib must be below limit_mib";
          }
          return "";
        });
    return s;
  }();
  return *schema;
}

namespace {

template <class Options>
pipeline::ComponentType Accepted(std::string type, std::string doc,
                                 const config::Schema<Options>& schema, std::string note) {
  pipeline::ComponentType t = pipeline::MakeProcessorType(
      std::move(type), std::move(doc),
      {log::Signal::kTraces, log::Signal::kLogs, log::Signal::kMetrics}, schema,
      [note](const pipeline::ComponentSettings& s, const Options&,
             pipeline::Runtime&) -> Result<std::shared_ptr<const pipeline::Processor>> {
        logging::Info("processor", note, {{"processor", s.id}});
        return std::shared_ptr<const pipeline::Processor>(std::make_shared<PassThrough>());
      });
  t.different_meaning = note;
  return t;
}

}  // namespace

pipeline::ComponentType BatchProcessorType() {
  return Accepted("batch",
                  "Accepted for Collector configurations and does nothing: the log batches, and "
                  "each exporter sizes its own requests.",
                  BatchOptionsSchema(),
                  "accepted and does nothing: the log batches, and each exporter sizes its "
                  "requests (max_request_bytes, linger)");
}

pipeline::ComponentType MemoryLimiterProcessorType() {
  return Accepted("memory_limiter",
                  "Accepted for Collector configurations and does nothing: "
                  "`service.max_in_flight_bytes` limits receivers' memory.",
                  MemoryLimiterOptionsSchema(),
                  "accepted and does nothing: service.max_in_flight_bytes limits what receivers "
                  "hold, answering 503 with Retry-After beyond it");
}

}  // namespace sluice::processors::accepted
