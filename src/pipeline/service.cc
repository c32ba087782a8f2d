#include "pipeline/service.h"

#include <algorithm>
#include <map>

#include "base/logging.h"
#include "base/thread.h"

namespace sluice::pipeline {

Service::Service(ServiceConfig config, telemetry::Registry& registry, io::FileSystem& fs,
                 Clock& clock)
    : config_(std::move(config)), registry_(registry), fs_(fs), clock_(clock) {}

Service::~Service() {
  if (started_ && !stopped_) Shutdown();
  if (work_) {
    work_.reset();
    io_.stop();
  }
  for (auto& t : io_threads_) {
    if (t.joinable()) t.join();
  }
}

Status Service::Start() {
  log::LogOptions storage = config_.storage;
  storage.background_threads = true;
  Result<std::unique_ptr<log::Log>> log = log::Log::Open(storage, fs_, clock_, registry_, &health_);
  if (!log.ok()) {
    health_.Set("log", false, log.status().ToString());
    return Status(log.status().code(), "storage: cannot open the log in " + storage.directory +
                                           ": " + log.status().message());
  }
  log_ = std::move(log).value();
  limiter_ = std::make_unique<InFlightLimiter>(config_.service.max_in_flight_bytes, registry_);
  runtime_ =
      std::make_unique<Runtime>(Runtime{io_, log_.get(), registry_, health_, clock_, *limiter_});

  // Only components that a pipeline uses are created. Processors first: a
  // receiver runs its pipelines' processors before it appends.
  std::map<std::string, std::shared_ptr<const Processor>> processors;
  for (const ComponentConfig& c : config_.processors) {
    ComponentSettings settings{c.id, config_.PipelinesOf(Kind::kProcessor, c.id)};
    if (settings.pipelines.empty()) {
      logging::Warn("service", "processor is not used by any pipeline", {{"processor", c.id}});
      continue;
    }
    Result<std::shared_ptr<const Processor>> p =
        c.type->create_processor(settings, c.options.get(), *runtime_);
    if (!p.ok())
      return Status(p.status().code(), "processor " + c.id + ": " + p.status().message());
    processors[c.id] = std::move(p).value();
  }
  // What a component that appends to `refs` runs first: each pipeline's
  // processors, in order.
  auto with_processors = [&](std::vector<PipelineRef> refs) {
    for (PipelineRef& ref : refs) {
      for (const PipelineConfig& p : config_.pipelines) {
        if (p.name != ref.name) continue;
        for (const std::string& id : p.processors) ref.processors.push_back(processors.at(id));
      }
    }
    return refs;
  };
  for (const ComponentConfig& c : config_.receivers) {
    ComponentSettings settings{c.id, with_processors(config_.PipelinesOf(Kind::kReceiver, c.id))};
    if (settings.pipelines.empty()) {
      logging::Warn("service", "receiver is not used by any pipeline", {{"receiver", c.id}});
      continue;
    }
    std::string health_name = "receiver/" + c.id;
    health_.Set(health_name, false, "starting");
    Result<std::unique_ptr<Receiver>> r =
        c.type->create_receiver(settings, c.options.get(), *runtime_);
    if (!r.ok()) {
      health_.Set(health_name, false, r.status().message());
      return Status(r.status().code(), "receiver " + c.id + ": " + r.status().message());
    }
    Status st = (*r)->Start();
    if (!st.ok()) {
      health_.Set(health_name, false, st.message());
      return Status(st.code(), "receiver " + c.id + ": " + st.message());
    }
    for (const auto& a : (*r)->Addresses()) {
      addresses_.push_back("receiver " + c.id + " " + a);
      logging::Info("service", "listening", {{"receiver", c.id}, {"address", a}});
    }
    health_.Set(health_name, true);
    receivers_.emplace_back(c.id, std::move(r).value());
  }

  const auto& rate = config_.service.telemetry.metrics.rate_limit;
  admin_limiter_ = std::make_unique<PerClientRateLimiter>(
      static_cast<double>(rate.requests_per_second), static_cast<double>(rate.burst),
      /*max_clients=*/10000, clock_);
  // Modules exist before the admin port serves (it routes to them); they
  // start once the exporters have.
  ModuleSettings module_settings{config_.AllPipelines()};
  module_settings.config = &config_;
  for (const ComponentConfig& c : config_.connectors) {
    for (const PipelineRef& p : config_.ConnectorOutputs(c.id)) {
      bool seen = false;
      for (const PipelineRef& d : module_settings.derived) seen = seen || d.id == p.id;
      if (!seen && p.signal == log::Signal::kMetrics) module_settings.derived.push_back(p);
    }
  }
  for (const ModuleConfig& m : config_.modules) {
    Result<std::unique_ptr<Module>> module =
        m.type->create(module_settings, m.options.get(), *runtime_);
    if (!module.ok()) {
      return Status(module.status().code(), m.type->key + ": " + module.status().message());
    }
    if (*module) modules_.push_back(std::move(module).value());
  }
  std::vector<Module*> module_handlers;
  for (const auto& m : modules_) module_handlers.push_back(m.get());
  admin_handler_ = std::make_unique<AdminHandler>(
      registry_, health_, *admin_limiter_, config_.service.telemetry.metrics.auth, module_handlers);
  net::HttpServerOptions admin_options;
  admin_options.name = "admin";
  admin_options.endpoint = config_.service.telemetry.metrics.address;
  admin_options.max_body_bytes = 1 << 20;
  Result<std::unique_ptr<net::HttpServer>> admin =
      net::HttpServer::Create(io_, admin_options, *admin_handler_, registry_);
  if (!admin.ok())
    return Status(admin.status().code(), "admin server: " + admin.status().message());
  admin_ = std::move(admin).value();
  admin_->Start();
  addresses_.push_back("admin " + admin_->BoundAddress());
  logging::Info("service", "listening", {{"admin", admin_->BoundAddress()}});
  for (const auto& m : modules_) {
    for (const auto& [name, path] : m->AdminPages()) {
      logging::Info("service", "serving", {{name, "http://" + admin_->BoundAddress() + path}});
    }
  }
  SLUICE_RETURN_IF_ERROR(StartExtensions());

  for (const ComponentConfig& c : config_.exporters) {
    ComponentSettings settings{c.id, config_.PipelinesOf(Kind::kExporter, c.id)};
    if (settings.pipelines.empty()) {
      logging::Warn("service", "exporter is not used by any pipeline", {{"exporter", c.id}});
      continue;
    }
    Result<std::unique_ptr<Exporter>> e =
        c.type->create_exporter(settings, c.options.get(), *runtime_);
    if (!e.ok()) return Status(e.status().code(), "exporter " + c.id + ": " + e.status().message());
    Status st = (*e)->Start();
    if (!st.ok()) return Status(st.code(), "exporter " + c.id + ": " + st.message());
    exporters_.emplace_back(c.id, std::move(e).value());
  }

  // Connectors read their pipelines from the log as exporters do, and
  // append what they derive to the pipelines they are a receiver of.
  for (const ComponentConfig& c : config_.connectors) {
    ComponentSettings settings{c.id, config_.PipelinesOf(Kind::kConnector, c.id),
                               with_processors(config_.ConnectorOutputs(c.id))};
    if (settings.pipelines.empty()) {
      logging::Warn("service", "connector is not used by any pipeline", {{"connector", c.id}});
      continue;
    }
    Result<std::unique_ptr<Exporter>> e =
        c.type->create_exporter(settings, c.options.get(), *runtime_);
    if (!e.ok()) {
      return Status(e.status().code(), "connector " + c.id + ": " + e.status().message());
    }
    Status st = (*e)->Start();
    if (!st.ok()) return Status(st.code(), "connector " + c.id + ": " + st.message());
    exporters_.emplace_back(c.id, std::move(e).value());
  }

  for (const auto& m : modules_) SLUICE_RETURN_IF_ERROR(m->Start());

  std::vector<std::string> exporter_ids;
  for (const auto& [id, e] : exporters_) exporter_ids.push_back(id);
  for (const auto& m : modules_) {
    for (const std::string& cursor : m->Cursors()) exporter_ids.push_back(cursor);
  }
  if (Status st = log_->DropCursorsExcept(exporter_ids); !st.ok()) {
    return Status(st.code(), "storage: " + st.message());
  }

  int64_t threads = config_.service.io_threads;
  if (threads == 0) {
    threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 4);
  }
  work_ =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          io_.get_executor());
  for (int64_t i = 0; i < threads; ++i)
    io_threads_.emplace_back([this, i] {
      SetThreadName("io-" + std::to_string(i));
      io_.run();
    });
  started_ = true;
  logging::Info("service", "started",
                {{"config", config_.source},
                 {"storage", config_.storage.directory},
                 {"receivers", static_cast<int64_t>(receivers_.size())},
                 {"exporters", static_cast<int64_t>(exporters_.size())}});
  return Status::Ok();
}

bool Service::Shutdown() {
  if (stopped_) return true;
  stopped_ = true;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      config_.service.shutdown_grace);
  health_.Set("service", false, "shutting down");
  bool in_time = true;
  for (auto& [id, r] : receivers_) r->StopAccepting();
  for (auto& [id, r] : receivers_) {
    if (!r->Drain(deadline)) {
      in_time = false;
      logging::Warn("service", "grace period ran out with requests in flight", {{"receiver", id}});
    }
  }
  // Exporters finish the batch in hand and commit; the rest stays in the log.
  for (auto& [id, e] : exporters_) e->Stop(std::chrono::steady_clock::now());
  for (auto& m : modules_) m->Stop(std::chrono::steady_clock::now());
  if (log_) {
    Status st = log_->Close();
    if (!st.ok()) {
      in_time = false;
      logging::Error("service", "log close failed", {{"error", st.ToString()}});
    }
  }
  for (auto& [id, r] : receivers_) r->Shutdown();
  if (admin_) {
    admin_->StopAccepting();
    admin_->CloseAll();
  }
  for (auto& h : health_servers_) {
    h->StopAccepting();
    h->CloseAll();
  }
  if (work_) {
    work_.reset();
    io_.stop();
  }
  for (auto& t : io_threads_) {
    if (t.joinable()) t.join();
  }
  io_threads_.clear();
  return in_time;
}

Status Service::StartExtensions() {
  for (const ExtensionConfig& e : config_.extensions) {
    if (!e.enabled) continue;
    switch (e.type) {
      case ExtensionType::kHealthCheck: {
        if (e.health_check.endpoint.empty()) {
          logging::Info("service", "health_check is answered by the admin port's /healthz",
                        {{"extension", e.id}, {"admin", admin_->BoundAddress()}});
          break;
        }
        health_handlers_.push_back(std::make_unique<HealthCheckHandler>(e.health_check, health_));
        net::HttpServerOptions options;
        options.name = e.id;
        options.endpoint = e.health_check.endpoint;
        options.max_body_bytes = 1 << 16;
        Result<std::unique_ptr<net::HttpServer>> server =
            net::HttpServer::Create(io_, options, *health_handlers_.back(), registry_);
        if (!server.ok()) {
          return Status(server.status().code(),
                        "extension " + e.id + ": " + server.status().message());
        }
        (*server)->Start();
        addresses_.push_back("extension " + e.id + " " + (*server)->BoundAddress());
        logging::Info("service", "listening",
                      {{"extension", e.id},
                       {"address", (*server)->BoundAddress()},
                       {"path", e.health_check.path}});
        health_servers_.push_back(std::move(server).value());
        break;
      }
      case ExtensionType::kPprof:
        logging::Info("service",
                      "pprof is accepted and does nothing: sluice has no Go profiler; use perf "
                      "record -g -p PID",
                      {{"extension", e.id}});
        break;
      case ExtensionType::kZpages:
        logging::Info("service",
                      "zpages is accepted and does nothing: the admin port's /metrics and "
                      "/readyz show pipeline health",
                      {{"extension", e.id}, {"admin", admin_->BoundAddress()}});
        break;
    }
  }
  return Status::Ok();
}

}  // namespace sluice::pipeline
