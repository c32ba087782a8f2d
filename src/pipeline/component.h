#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "config/schema.h"
#include "io/file_system.h"
#include "log/format.h"
#include "log/log.h"
#include "net/http_server.h"
#include "pipeline/limiter.h"
#include "pipeline/sender.h"
#include "telemetry/health.h"
#include "telemetry/metrics.h"

namespace boost::asio {
class io_context;
}

namespace sluice::pipeline {

// A connector is an exporter of one pipeline and a receiver of another (the
// Collector's connectors): it reads the first from the log and appends what
// it derives to the second.
enum class Kind { kReceiver, kProcessor, kExporter, kConnector };
std::string_view KindName(Kind k);     // "receiver", ...
std::string_view KindSection(Kind k);  // "receivers", ...

// Changes a pipeline's batches before they are appended, so the log holds
// what the pipeline forwards (filter, attributes, ...). Process runs on
// receivers' threads, for many requests at once: a processor is immutable
// once created, or guards its own state.
class Processor {
 public:
  struct Input {
    log::Signal signal;
    log::Encoding encoding;
    std::string_view payload;
    uint64_t items;
    std::string_view tenant = {};  // "" for the default tenant
  };
  struct Output {
    bool changed = false;  // false: store the input as it is
    std::string payload;   // when changed
    uint64_t items = 0;    // when changed; 0: nothing left to store
  };
  virtual ~Processor() = default;
  // An error (a condition that failed under error_mode: propagate) refuses
  // the whole request: InvalidArgument, answered 400.
  virtual Status Process(const Input& in, Output* out) const = 0;
};

// One pipeline a component takes part in.
struct PipelineRef {
  std::string name;  // "traces" or "traces/b"
  log::Signal signal;
  uint32_t id;  // log::PipelineId(name)
  // The pipeline's processors in their order (for receivers; empty elsewhere).
  std::vector<std::shared_ptr<const Processor>> processors = {};
};

// Everything a component may use, owned by the Service and alive for as long
// as any component is.
struct Runtime {
  boost::asio::io_context& io;
  // Never null in a running service. Null only in the runtime of `sluice
  // backfill` from files or a remote read, which creates nothing but
  // processors and exporters fed by their caller (ComponentSettings::feed).
  log::Log* log;
  telemetry::Registry& metrics;
  telemetry::Health& health;
  Clock& clock;
  InFlightLimiter& limiter;
};

using Deadline = std::chrono::steady_clock::time_point;

// Takes data in and appends it to the log.
// Lifecycle: Start (bind; may fail) → StopAccepting → Drain → Shutdown.
class Receiver {
 public:
  virtual ~Receiver() = default;
  // Binds listeners and begins serving. A bind failure is returned.
  virtual Status Start() = 0;
  // Addresses actually listened on ("http 127.0.0.1:4318"), for the start-up log.
  virtual std::vector<std::string> Addresses() const = 0;
  virtual void StopAccepting() = 0;
  // Waits until in-flight requests are answered; false if the deadline passed.
  virtual bool Drain(Deadline deadline) = 0;
  // Ends whatever is still open.
  virtual void Shutdown() = 0;
};

// Reads the log through its own cursor and delivers to a destination.
class Exporter {
 public:
  virtual ~Exporter() = default;
  virtual Status Start() = 0;
  // Finishes the batch in hand, commits its cursor, and stops.
  virtual void Stop(Deadline deadline) = 0;
};

// A part of the service beside the pipelines, configured by a top-level
// section of its own (the query layer): it reads the log through cursors of
// its own and answers requests on the admin port under its own paths.
// Lifecycle: created before the admin port serves, started after the
// exporters and connectors, stopped after them and before the log closes.
// Thread-safety: Handle is called from the admin server's I/O threads,
// concurrently and from before Start to after Stop.
class Module {
 public:
  virtual ~Module() = default;
  // The log cursors it keeps (the service forgets every other consumer's).
  virtual std::vector<std::string> Cursors() const = 0;
  virtual Status Start() = 0;
  virtual void Stop(Deadline deadline) = 0;
  // Answers `request` when its path is one of the module's (returning true,
  // `respond` then called exactly once, now or later); false otherwise,
  // `respond` untouched.
  virtual bool Handle(net::HttpRequest& request, net::Responder& respond) = 0;
  // What it offers on the admin port, for the start-up log: {name, path}
  // pairs ({"ui", "/"}), or none.
  virtual std::vector<std::pair<std::string, std::string>> AdminPages() const { return {}; }
};

struct ServiceConfig;  // service_config.h

// What a module's factory receives besides its options.
struct ModuleSettings {
  std::vector<PipelineRef> pipelines;  // every pipeline of the configuration
  // The metrics pipelines a connector is a receiver of (what spanmetrics and
  // servicegraph derive), each once.
  std::vector<PipelineRef> derived = {};
  // The whole configuration, alive as long as the module (for modules that
  // make components of their own: replays make fed exporters).
  const ServiceConfig* config = nullptr;
};

// A module's registration: its top-level key, schema and factory.
struct ModuleType {
  std::string key;
  std::string doc;
  std::function<std::shared_ptr<const void>(const YAML::Node&, config::Context&)> parse;
  std::function<std::vector<config::FieldDoc>()> document;
  std::function<Result<std::unique_ptr<Module>>(const ModuleSettings&, const void* options,
                                                Runtime&)>
      create;
};

// How an exporter is run when its caller supplies its batches instead of a
// read of the log: `sluice backfill` and `sluice replay`.
struct FeedSettings {
  // Where its dead letters go ("" keeps none).
  io::FileSystem* fs = nullptr;
  std::string dead_letter_directory;
  // Asked about each request the destination refused for good. True stops
  // the feed at that request, which is then neither dead-lettered nor done
  // (a checkpoint stays before it); false dead-letters it as usual. Called
  // from the exporter's sending threads.
  std::function<bool(const SendResult&)> stop_on;
};

// What a fed exporter has done so far.
struct FeedProgress {
  uint64_t requests = 0;             // accepted by the destination
  uint64_t sent_items = 0;           // accepted items
  uint64_t sent_bytes = 0;           // of the accepted requests, uncompressed
  uint64_t retried_items = 0;        // items in requests sent again
  uint64_t dead_lettered_items = 0;  // given up on
  uint64_t rejected_items = 0;       // refused in partial successes
  uint64_t unsupported_items = 0;    // of a signal or encoding it cannot send
};

// An exporter fed by its caller (ComponentSettings::feed set). Exporter's
// Start starts its senders and Stop ends them, abandoning requests still
// being sent. Take, Flush and Checkpoint are called from one feeding
// thread; Progress and StopReason from any.
class FedExporter {
 public:
  virtual ~FedExporter() = default;
  // Encodes one batch that starts at `start` and queues the requests it
  // completes, waiting while the queue is full. `start.record_offset` must
  // grow from batch to batch: it identifies the batch. An error: the feed
  // has stopped (stop_on chose to stop, or Stop was called).
  virtual Status Take(const log::LogReader::Batch& batch, const log::Position& start) = 0;
  // Queues the requests still open.
  virtual void Flush() = 0;
  // Where a checkpoint may stand: the start of the oldest batch with data
  // neither accepted nor dead-lettered yet, or `read` (past every batch
  // taken) when there is none.
  virtual log::Position Checkpoint(const log::Position& read) = 0;
  // Waits until every queued request is done, the feed has stopped, or the
  // deadline passed; true when all are done.
  virtual bool Drain(Deadline deadline) = 0;
  virtual FeedProgress Progress() const = 0;
  // From any thread (a signal's): a Take waiting for room in the queue
  // returns at once, and later ones do not wait; what is queued goes on
  // being sent.
  virtual void Interrupt() = 0;
  // Why stop_on stopped the feed ("" while it has not).
  virtual std::string StopReason() const = 0;
};

// What the factory receives besides the parsed options.
struct ComponentSettings {
  std::string id;  // "otlp" or "otlp/2"
  std::vector<PipelineRef> pipelines;
  // Connectors: the pipelines they are a receiver of, with their processors.
  std::vector<PipelineRef> outputs = {};
  // Set: the exporter is fed by its caller; only for types with `fed`, whose
  // exporter is then a FedExporter (found by dynamic_cast).
  const FeedSettings* feed = nullptr;
};

// A registration record: a component type's name, its signals, its schema
// (parse + docs) and its factories. Options are carried type-erased between
// parsing and creation; MakeReceiverType/MakeExporterType keep the types
// matched.
struct ComponentType {
  Kind kind;
  std::string type;
  std::string doc;
  std::vector<log::Signal> signals;
  std::function<std::shared_ptr<const void>(const YAML::Node&, config::Context&)> parse;
  std::function<std::vector<config::FieldDoc>()> document;
  std::function<Result<std::unique_ptr<Receiver>>(const ComponentSettings&, const void* options,
                                                  Runtime&)>
      create_receiver;
  std::function<Result<std::unique_ptr<Exporter>>(const ComponentSettings&, const void* options,
                                                  Runtime&)>
      create_exporter;
  // For exporters that send requests: a Sender on its own, as `sluice dlq
  // replay` uses to resend dead letters. Unset for other types.
  std::function<std::unique_ptr<Sender>(const void* options)> create_sender;
  std::function<Result<std::shared_ptr<const Processor>>(const ComponentSettings&,
                                                         const void* options, Runtime&)>
      create_processor;
  // For types that take the Collector's configuration but mean something
  // else by it (`batch`, which does nothing): what they do instead, for
  // `sluice validate`. Empty for types that behave as the Collector's.
  std::string different_meaning = {};
  // Connectors: the signals of the pipelines they feed (`signals` are those
  // of the pipelines they read). A connector is created by create_exporter.
  std::vector<log::Signal> output_signals = {};
  // Exporters: create_exporter with ComponentSettings::feed set returns a
  // FedExporter (and needs no Runtime::log). Others must not be created so.
  bool fed = false;
};

// Adds a create_sender to an exporter type built by MakeExporterType.
template <class Options, class Factory>
ComponentType WithSender(ComponentType t, Factory factory) {
  t.create_sender = [factory](const void* o) { return factory(*static_cast<const Options*>(o)); };
  return t;
}

template <class Options>
std::function<std::shared_ptr<const void>(const YAML::Node&, config::Context&)> ParseWith(
    const config::Schema<Options>& schema) {
  return [&schema](const YAML::Node& node, config::Context& ctx) {
    auto options = std::make_shared<Options>();
    schema.Parse(node, options.get(), ctx);
    return std::shared_ptr<const void>(std::move(options));
  };
}

template <class Options, class Factory>
ComponentType MakeReceiverType(std::string type, std::string doc, std::vector<log::Signal> signals,
                               const config::Schema<Options>& schema, Factory factory) {
  ComponentType t{Kind::kReceiver,
                  std::move(type),
                  std::move(doc),
                  std::move(signals),
                  ParseWith(schema),
                  [&schema] { return schema.Document(); },
                  {},
                  {},
                  {},
                  {}};
  t.create_receiver = [factory](const ComponentSettings& s, const void* o, Runtime& rt) {
    return factory(s, *static_cast<const Options*>(o), rt);
  };
  return t;
}

template <class Options, class Factory>
ComponentType MakeExporterType(std::string type, std::string doc, std::vector<log::Signal> signals,
                               const config::Schema<Options>& schema, Factory factory) {
  ComponentType t{Kind::kExporter,
                  std::move(type),
                  std::move(doc),
                  std::move(signals),
                  ParseWith(schema),
                  [&schema] { return schema.Document(); },
                  {},
                  {},
                  {},
                  {}};
  t.create_exporter = [factory](const ComponentSettings& s, const void* o, Runtime& rt) {
    return factory(s, *static_cast<const Options*>(o), rt);
  };
  return t;
}

template <class Options, class Factory>
ComponentType MakeProcessorType(std::string type, std::string doc, std::vector<log::Signal> signals,
                                const config::Schema<Options>& schema, Factory factory) {
  ComponentType t{Kind::kProcessor,
                  std::move(type),
                  std::move(doc),
                  std::move(signals),
                  ParseWith(schema),
                  [&schema] { return schema.Document(); },
                  {},
                  {},
                  {},
                  {}};
  t.create_processor = [factory](const ComponentSettings& s, const void* o, Runtime& rt) {
    return factory(s, *static_cast<const Options*>(o), rt);
  };
  return t;
}

// A connector type: read from pipelines of `from`, feeding pipelines of `to`.
template <class Options, class Factory>
ComponentType MakeConnectorType(std::string type, std::string doc, std::vector<log::Signal> from,
                                std::vector<log::Signal> to, const config::Schema<Options>& schema,
                                Factory factory) {
  ComponentType t =
      MakeExporterType<Options>(std::move(type), std::move(doc), std::move(from), schema, factory);
  t.kind = Kind::kConnector;
  t.output_signals = std::move(to);
  return t;
}

// A module type (ModuleType) with its options read by `schema`.
template <class Options, class Factory>
ModuleType MakeModuleType(std::string key, std::string doc, const config::Schema<Options>& schema,
                          Factory factory) {
  ModuleType t{std::move(key),
               std::move(doc),
               ParseWith(schema),
               [&schema] { return schema.Document(); },
               {}};
  t.create = [factory](const ModuleSettings& s, const void* o, Runtime& rt) {
    return factory(s, *static_cast<const Options*>(o), rt);
  };
  return t;
}

// The component and module types this binary knows, filled once at start-up.
//
// A component type is made on first use: its schema, documentation and
// factory are built only when a configuration names it (or the reference
// is written), so a sluice runs none of the set-up code of the types its
// configuration does not use, and that code stays out of its memory.
//
// Thread-safety: Add and AddModule before any other call; the const
// methods from any thread.
class Catalog {
 public:
  using MakeType = ComponentType (*)();

  Catalog() = default;
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;
  Catalog(Catalog&&) = default;

  // Registers `make`, which returns the type named `type` of `kind`
  // (checked when it is made).
  void Add(Kind kind, std::string type, MakeType make);
  void AddModule(ModuleType type) { modules_.push_back(std::move(type)); }
  const std::vector<ModuleType>& modules() const { return modules_; }
  // The type, made on the first call for it; null when none is registered.
  const ComponentType* Find(Kind kind, std::string_view type) const;
  // The registered names of `kind`, in registration order (none is made).
  std::vector<std::string> Names(Kind kind) const;
  // Every type in registration order, each made if it was not yet.
  std::vector<const ComponentType*> types() const;

 private:
  struct Entry {
    Kind kind;
    std::string type;
    MakeType make;
    mutable std::once_flag once;
    mutable std::unique_ptr<const ComponentType> made;
  };
  static const ComponentType* Made(const Entry& e);

  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<ModuleType> modules_;
};

}  // namespace sluice::pipeline
