// sluice: receives, holds and forwards telemetry.

#include <absl/synchronization/mutex.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include "app/dlq_command.h"
#include "backfill/command.h"
#include "backfill/replay.h"
#include "base/logging.h"
#include "base/memory.h"
#include "base/units.h"
#include "components/builtin.h"
#include "io/file_system.h"
#include "loadgen/loadgen.h"
#include "pipeline/compat.h"
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

// SIGINT and SIGTERM are taken by one thread with sigwait, so no handler
// runs on an arbitrary thread: blocks them (the mask is inherited by every
// thread started later) and returns their set. SIGPIPE is ignored.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return signals;
}

// Prints every error, then how each component loads (unchanged, with a
// different meaning, unsupported): what a Collector user switching needs.
int Validate(const std::string& path) {
  config::Context ctx(path);
  std::optional<YAML::Node> root = config::LoadFile(path, ctx);
  std::optional<pipeline::ServiceConfig> cfg;
  if (root) cfg = pipeline::ParseServiceConfig(*root, ctx, components::BuiltinCatalog());
  for (const auto& e : ctx.errors()) std::cerr << e.ToString() << "\n";
  if (root) {
    std::cout << pipeline::RenderVerdicts(
        pipeline::ClassifyComponents(*root, ctx.errors(), components::BuiltinCatalog()));
  }
  if (!cfg) return 1;
  std::cout << "configuration OK: " << path << "\n";
  return 0;
}

int Run(const std::string& path) {
  std::optional<pipeline::ServiceConfig> cfg = Load(path, /*print_errors=*/true);
  if (!cfg) return 1;
  logging::Configure(cfg->service.telemetry.logs.level, cfg->service.telemetry.logs.encoding);

  const sigset_t signals = BlockShutdownSignals();

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
  // The main thread has nothing else to do: it gives memory back while the
  // service is idle.
  IdleMemoryReturner returner;
  std::unique_lock<std::mutex> lock(mu);
  while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return received != 0; })) {
    lock.unlock();
    returner.Tick();
    lock.lock();
  }
  lock.unlock();
  logging::Info("main", "shutting down", {{"signal", received}});
  bool clean = service.Shutdown();
  logging::Info("main", clean ? "stopped" : "stopped after the grace period ran out");
  return clean ? 0 : 1;
}

// `sluice backfill` and `sluice replay`: the first SIGINT/SIGTERM stops
// reading, lets what is queued be sent and saves the checkpoint; a second
// one exits at once.
int RunHistory(const backfill::Args& args, bool replay) {
  ConfigureAllocatorForBatchJob();
  const sigset_t signals = BlockShutdownSignals();
  static std::atomic<bool> stop{false};
  static std::mutex mu;
  static backfill::Job* running = nullptr;
  std::thread waiter([signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    stop.store(true);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (running != nullptr) running->Interrupt();
    }
    sigwait(&signals, &sig);
    _exit(128 + sig);
  });
  waiter.detach();
  auto hook = [](backfill::Job* e) {
    std::lock_guard<std::mutex> lock(mu);
    running = e;
    if (e != nullptr && stop.load()) e->Interrupt();
  };
  logging::Configure(logging::Level::kWarn, logging::Format::kLogfmt);
  if (replay) {
    return backfill::RunReplay(args, components::BuiltinCatalog(), std::cout, std::cerr, stop,
                               hook);
  }
  return backfill::RunBackfill(args, components::BuiltinCatalog(), std::cout, std::cerr, stop,
                               hook);
}

std::atomic<bool> g_loadgen_stop{false};

int Loadgen(const loadgen::Options& options) {
  // Lock-free atomic store: safe in a signal handler.
  std::signal(SIGINT, [](int) { g_loadgen_stop.store(true); });
  std::signal(SIGTERM, [](int) { g_loadgen_stop.store(true); });
  Result<loadgen::Summary> s = loadgen::Run(options, g_loadgen_stop);
  if (!s.ok()) {
    std::cerr << "loadgen: " << s.status().message() << "\n";
    return 2;
  }
  std::cout << loadgen::FormatSummary(*s);
  return s->failed_requests == 0 ? 0 : 1;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  sluice::ConfigureAllocator();
  // gRPC locks absl mutexes, and Debian builds absl with its debug default:
  // every acquisition is recorded in a lock-order graph to detect deadlock
  // cycles, a few per cent of the gRPC receiver's time. Release builds of
  // absl leave the check off; so does sluice.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
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
  sluice::loadgen::Options lg;
  std::string lg_protocol = "http";
  std::string lg_duration = "60s";
  std::string lg_ramp = "10s";
  std::string lg_interval = "1s";
  auto* loadgen = app.add_subcommand(
      "loadgen", "Simulate services sending OTLP traces (and logs, metrics) to an endpoint.");
  loadgen->add_option("--protocol", lg_protocol, "http or grpc.")
      ->check(CLI::IsMember({"http", "grpc"}));
  loadgen->add_option("--endpoint", lg.endpoint,
                      "host:port (default 127.0.0.1:4318 for http, 127.0.0.1:4317 for grpc).");
  loadgen->add_option("--services", lg.services, "Simulated services.")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  loadgen->add_option("--rate", lg.spans_per_second, "Spans per second per service.")
      ->capture_default_str();
  loadgen
      ->add_option("--logs-rate", lg.logs_per_second,
                   "Log records per second per service; with --topology, any rate above 0 "
                   "makes every span log a line with its trace and span ids.")
      ->capture_default_str();
  loadgen
      ->add_option("--metrics-rate", lg.metrics_per_second,
                   "Metric data points per second per service.")
      ->capture_default_str();
  loadgen->add_option("--duration", lg_duration, "How long to send (e.g. 30s, 10m).")
      ->capture_default_str();
  loadgen->add_option("--ramp", lg_ramp, "Services start evenly over this time.")
      ->capture_default_str();
  loadgen->add_option("--interval", lg_interval, "Each service exports this often.")
      ->capture_default_str();
  loadgen->add_option("--connections", lg.connections, "Concurrent connections.")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  loadgen->add_option("--seed", lg.seed, "Seed of the services' random streams.")
      ->capture_default_str();
  loadgen
      ->add_option("--topology", lg.topology,
                   "shop: whole traces through frontend, checkout, payments, notifier and "
                   "uninstrumented peers, with known error rates per call (docs/connectors.md); "
                   "--rate is then traces per second and the summary lists calls and errors "
                   "per edge.")
      ->check(CLI::IsMember({"shop"}));
  loadgen
      ->add_option("--operations", lg.operations,
                   "Root span names per service (/api/v1/op-<k>); 0: three common routes.")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  loadgen
      ->add_option("--name-churn", lg.name_churn,
                   "Fraction of root spans given a name never used before (span-name churn).")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  bool lg_quiet = false;
  loadgen->add_flag("--no-progress", lg_quiet, "No live progress line.");
  std::string dlq_action;
  std::string dlq_config;
  std::string dlq_exporter;
  auto* dlq = app.add_subcommand(
      "dlq", "List, replay or purge the requests exporters could not deliver (dead letters).");
  dlq->add_option("action", dlq_action, "list, replay or purge.")
      ->required()
      ->check(CLI::IsMember({"list", "replay", "purge"}));
  dlq->add_option("-c,--config", dlq_config, "Configuration file (YAML).")
      ->check(CLI::ExistingFile);
  dlq->add_option("-e,--exporter", dlq_exporter,
                  "Exporter id (required for replay and purge; list shows all without it).");
  sluice::backfill::Args bf;
  auto* backfill = app.add_subcommand(
      "backfill",
      "Send history (OTLP/JSON lines, Prometheus text or OpenMetrics files, a remote read "
      "endpoint) through a configured exporter, resuming where an interrupted run stopped.");
  sluice::backfill::Args rp;
  auto* replay = app.add_subcommand(
      "replay",
      "Send a time range the log still holds through one exporter again, through the admin API "
      "of a running sluice (its live exporter unaffected) or from the log of a stopped one.");
  for (auto [cmd, a] : {std::pair{backfill, &bf}, std::pair{replay, &rp}}) {
    cmd->add_option("-c,--config", a->config, "Configuration file (YAML) naming the exporter.")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("-e,--exporter", a->exporter, "Exporter id to send through.")->required();
    cmd->add_option("--end", a->end,
                    "Send what is at or before this time (RFC 3339, Unix seconds, now, -6h).");
    cmd->add_option("--processors", a->processors,
                    "Processor ids of the configuration to run on the data, in order.");
    cmd->add_option("--rate", a->rate,
                    "At most this many items per second (50000), or bytes (8MiB).");
    cmd->add_option("--checkpoint", a->checkpoint,
                    "The checkpoint file (default: under storage.directory).");
    cmd->add_option("--checkpoint-interval", a->checkpoint_interval,
                    "How often the checkpoint is saved (and at the end).")
        ->capture_default_str();
    cmd->add_flag("--restart", a->restart, "Start over, ignoring the checkpoint.");
    cmd->add_flag("-q,--quiet", a->quiet, "No progress; only the summary line.");
    cmd->add_option("--progress-interval", a->progress_interval,
                    "How often to print a progress line when not on a terminal.")
        ->capture_default_str();
  }
  backfill
      ->add_option("--from", bf.from,
                   "What to read: otlp-json:FILE (and its rotated files), openmetrics:FILE, "
                   "prometheus-text:FILE, remote-read:URL, or log.")
      ->required();
  backfill->add_option("--start", bf.start,
                       "Send what is at or after this time (RFC 3339, Unix seconds, now, -6h).");
  backfill->add_option("--match", bf.match,
                       "Series selector ({job=\"api\"}, up); repeat for any of several. "
                       "Prometheus sources only.");
  backfill
      ->add_option("--concurrency", bf.concurrency,
                   "Requests sent at once (the exporter's sending_queue.num_consumers).")
      ->check(CLI::Range(1, 256));
  backfill->add_option("--slice", bf.slice, "Remote read: the time range of one request.")
      ->capture_default_str();
  replay->add_option("--start", rp.start, "Send what is at or after this time.")->required();
  std::string rp_admin;
  bool rp_offline = false;
  replay->add_option("--admin", rp_admin,
                     "Admin address of the running sluice (default: the configuration's "
                     "service.telemetry.metrics.address).");
  replay->add_flag(
      "--offline", rp_offline,
      "Read the log directly (sluice must be stopped) instead of asking the running one.");
  auto* version = app.add_subcommand("version", "Print the version.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // backfill and replay end every failure to start with exit code 2.
    if (rc != 0 && (backfill->parsed() || replay->parsed())) return 2;
    return rc;
  }

  if (*dlq) {
    std::optional<sluice::pipeline::ServiceConfig> cfg =
        sluice::Load(dlq_config, /*print_errors=*/true);
    if (!cfg) return 2;
    return sluice::app::RunDlqCommand(dlq_action, *cfg, dlq_exporter, std::cout, std::cerr);
  }

  if (*run) return sluice::Run(run_config);
  if (*backfill) return sluice::RunHistory(bf, /*replay=*/false);
  if (*replay) {
    rp.from = "log";
    rp.admin = rp_admin;
    rp.offline = rp_offline;
    return sluice::RunHistory(rp, /*replay=*/true);
  }
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
  if (*loadgen) {
    lg.protocol =
        lg_protocol == "grpc" ? sluice::loadgen::Protocol::kGrpc : sluice::loadgen::Protocol::kHttp;
    lg.progress = !lg_quiet;
    for (auto [text, out] : {std::pair{&lg_duration, &lg.duration}, std::pair{&lg_ramp, &lg.ramp},
                             std::pair{&lg_interval, &lg.flush_interval}}) {
      auto d = sluice::ParseDuration(*text);
      if (!d.ok()) {
        std::cerr << "loadgen: " << d.status().message() << "\n";
        return 2;
      }
      *out = *d;
    }
    return sluice::Loadgen(lg);
  }
  if (*version) {
    std::cout << "sluice " << SLUICE_VERSION << "\n";
    return 0;
  }
  return 0;
}
