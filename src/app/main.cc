// sluice: receives, holds and forwards telemetry.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "base/logging.h"
#include "components/builtin.h"
#include "io/file_system.h"
#include "pipeline/service.h"
#include "telemetry/metrics.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace sluice {
namespace {

std::optional<pipeline::ServiceConfig> Load(const std::string& path, bool print_errors) {
  config::Context ctx(path.empty() ? "<embedded default>" : path);
  std::optional<pipeline::ServiceConfig> cfg =
      pipeline::LoadServiceConfig(path, ctx, components::BuiltinCatalog());
  if (print_errors) {
    for (const auto& e : ctx.errors()) std::cerr << e.ToString() << "\n";
  }
  return cfg;
}

int Validate(const std::string& path) {
  std::optional<pipeline::ServiceConfig> cfg = Load(path, /*print_errors=*/true);
  if (!cfg) return 1;
  std::cout << "configuration OK: " << path << "\n";
  return 0;
}

int Run(const std::string& path) {
  std::optional<pipeline::ServiceConfig> cfg = Load(path, /*print_errors=*/true);
  if (!cfg) return 1;
  logging::Configure(cfg->service.telemetry.logs.level, cfg->service.telemetry.logs.encoding);

  // Signals are taken by one thread with sigwait, so no handler runs on an
  // arbitrary thread; the mask is inherited by every thread started later.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::mutex mu;
  std::condition_variable cv;
  int received = 0;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    {
      std::lock_guard<std::mutex> lock(mu);
      received = sig;
    }
    cv.notify_all();
    sigwait(&signals, &sig);
    logging::Warn("main", "second signal: exiting at once", {{"signal", sig}});
    _exit(128 + sig);
  });
  waiter.detach();

  telemetry::Registry registry;
  telemetry::Counter& build_info =
      registry.AddCounter("sluice_build_info", "Always 1; labels carry the version.", {"version"})
          .With({SLUICE_VERSION});
  build_info.Inc();
  pipeline::Service service(std::move(*cfg), registry, io::FileSystem::Posix(), Clock::Real());
  Status st = service.Start();
  if (!st.ok()) {
    logging::Error("main", "cannot start: " + st.message());
    service.Shutdown();
    return 1;
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return received != 0; });
  lock.unlock();
  logging::Info("main", "shutting down", {{"signal", received}});
  bool clean = service.Shutdown();
  logging::Info("main", clean ? "stopped" : "stopped after the grace period ran out");
  return clean ? 0 : 1;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  CLI::App app{
      "sluice: receives OTLP and Prometheus telemetry, holds it in a crash-safe log, and "
      "forwards it to the backends you run."};
  app.require_subcommand(1);
  std::string run_config;
  auto* run = app.add_subcommand("run", "Run the pipeline (embedded default without --config).");
  run->add_option("-c,--config", run_config, "Configuration file (YAML).")
      ->check(CLI::ExistingFile);
  std::string validate_config;
  bool reference = false;
  auto* validate = app.add_subcommand(
      "validate", "Check a configuration file; print every error as file:line:column.");
  validate->add_option("-c,--config", validate_config, "Configuration file (YAML).")
      ->check(CLI::ExistingFile);
  validate->add_flag("--reference", reference,
                     "Print the reference of every configuration key (Markdown) and exit.");
  auto* version = app.add_subcommand("version", "Print the version.");
  CLI11_PARSE(app, argc, argv);

  if (*run) return sluice::Run(run_config);
  if (*validate) {
    if (reference) {
      std::cout << sluice::components::ConfigurationReference();
      return 0;
    }
    if (validate_config.empty()) {
      std::cerr << "validate: --config is required\n";
      return 2;
    }
    return sluice::Validate(validate_config);
  }
  if (*version) {
    std::cout << "sluice " << SLUICE_VERSION << "\n";
    return 0;
  }
  return 0;
}
