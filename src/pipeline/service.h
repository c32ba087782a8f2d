#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/http_server.h"
#include "pipeline/admin.h"
#include "pipeline/component.h"
#include "pipeline/extensions.h"
#include "pipeline/service_config.h"

namespace sluice::pipeline {

// The running process: the log, the components of every pipeline, the admin
// server and the I/O threads.
//
// States: built → Start() → running → Shutdown() → stopped. Start and
// Shutdown are called from one thread (main); Shutdown may run once.
class Service {
 public:
  Service(ServiceConfig config, telemetry::Registry& registry, io::FileSystem& fs, Clock& clock);
  ~Service();

  // Opens the log, creates and binds every component and the admin server,
  // then starts serving. The error names the component that failed.
  Status Start();
  // Stops accepting, finishes in-flight requests, stops exporters (committing
  // their cursors), flushes and syncs the log. Returns false if the grace
  // period ran out before everything finished.
  bool Shutdown();

  // Listening addresses, for logs and tests.
  std::vector<std::string> Addresses() const { return addresses_; }
  telemetry::Health& health() { return health_; }

 private:
  // Starts the enabled extensions that serve (health_check with an
  // endpoint) and says in the log what each one maps to.
  Status StartExtensions();

  ServiceConfig config_;
  telemetry::Registry& registry_;
  io::FileSystem& fs_;
  Clock& clock_;
  telemetry::Health health_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> io_threads_;
  std::unique_ptr<log::Log> log_;
  std::unique_ptr<InFlightLimiter> limiter_;
  std::unique_ptr<Runtime> runtime_;
  std::vector<std::pair<std::string, std::unique_ptr<Receiver>>> receivers_;
  std::vector<std::pair<std::string, std::unique_ptr<Exporter>>> exporters_;
  std::vector<std::unique_ptr<Module>> modules_;
  std::unique_ptr<PerClientRateLimiter> admin_limiter_;
  std::unique_ptr<AdminHandler> admin_handler_;
  std::unique_ptr<net::HttpServer> admin_;
  // health_check extensions on their own endpoints.
  std::vector<std::unique_ptr<HealthCheckHandler>> health_handlers_;
  std::vector<std::unique_ptr<net::HttpServer>> health_servers_;
  std::vector<std::string> addresses_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::pipeline
