#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/process.h"
#include "support/wait.h"

namespace sluice::testing {

// A real Prometheus (the Debian package's binary) on a free port of
// 127.0.0.1, for tests that send to it or have it scrape, then query it
// back. Its configuration, TSDB and output live under `dir`, which must
// outlive it. The address is known before it starts, so a configuration
// may name it (Prometheus scraping itself). The destructor kills it.
class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";
  static bool Installed() { return std::filesystem::exists(kBinary); }

  struct Options {
    // The whole prometheus.yml; scrapes nothing by default.
    std::string config = "global:\n  scrape_interval: 1h\n";
    // --web.enable-remote-write-receiver: accepts remote write at
    // /api/v1/write.
    bool remote_write_receiver = false;
  };

  explicit PrometheusServer(std::string dir)
      : dir_(std::move(dir)), address_("127.0.0.1:" + std::to_string(FreeLocalPort())) {}

  // "127.0.0.1:<port>", fixed from construction on.
  const std::string& address() const { return address_; }

  // Writes the configuration, starts Prometheus and waits up to `limit` for
  // /-/ready. False when it is not ready by then (Output() says why).
  bool Start(const Options& options, std::chrono::seconds limit = std::chrono::seconds(60)) {
    const std::string config = dir_ + "/prometheus.yml";
    std::ofstream(config) << options.config;
    std::vector<std::string> args = {"--config.file=" + config,
                                     "--storage.tsdb.path=" + dir_ + "/tsdb",
                                     "--web.listen-address=" + address_};
    if (options.remote_write_receiver) args.push_back("--web.enable-remote-write-receiver");
    process_ = std::make_unique<Process>(kBinary, std::move(args), dir_ + "/prometheus.log");
    return WaitUntil([&] { return HttpGet(address_, "/-/ready").status == 200; }, limit);
  }

  // The value of the first result of an instant query, "" when none.
  std::string Query(const std::string& promql) const { return PromQueryValue(address_, promql); }

  // What Prometheus has written to its log so far.
  std::string Output() const { return process_ ? process_->Output() : "(not started)"; }

 private:
  const std::string dir_;
  const std::string address_;
  std::unique_ptr<Process> process_;
};

}  // namespace sluice::testing
