#pragma once

#include <fstream>
#include <optional>
#include <regex>
#include <string>

#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::testing {

// A sluice process started from a config written into a temp dir, with every
// port chosen by the kernel and read back from the start-up log.
class SluiceProcess {
 public:
  SluiceProcess(const TempDir& dir, const std::string& config_yaml, const std::string& tag = "run")
      : config_path_(dir.Sub(tag + ".yaml")) {
    std::ofstream(config_path_) << config_yaml;
    process_ = std::make_unique<Process>(SLUICE_BINARY,
                                         std::vector<std::string>{"run", "--config", config_path_},
                                         dir.Sub(tag + ".log"), dir.path());
  }

  // Waits until the OTLP/HTTP receiver and admin addresses are logged. The
  // admin address is logged after every receiver's, so by then the OTLP/gRPC
  // address is there too when the config has one.
  bool WaitStarted() {
    auto otlp = process_->WaitForOutput(R"re(receiver=otlp address="http ([0-9.]+:[0-9]+)")re",
                                        std::chrono::seconds(30));
    auto admin = process_->WaitForOutput(R"re(admin=([0-9.]+:[0-9]+))re", std::chrono::seconds(30));
    if (!otlp || !admin) return false;
    otlp_ = *otlp;
    admin_ = *admin;
    std::smatch grpc;
    const std::string output = process_->Output();
    if (std::regex_search(output, grpc,
                          std::regex(R"re(receiver=otlp address="grpc ([0-9.]+:[0-9]+)")re"))) {
      otlp_grpc_ = grpc[1].str();
    }
    return true;
  }

  // host:port of the OTLP/HTTP receiver.
  const std::string& otlp() const { return otlp_; }
  // host:port of the OTLP/gRPC receiver; empty without protocols.grpc.
  const std::string& otlp_grpc() const { return otlp_grpc_; }
  const std::string& admin() const { return admin_; }
  Process& process() { return *process_; }

 private:
  std::string config_path_;
  std::unique_ptr<Process> process_;
  std::string otlp_;
  std::string otlp_grpc_;
  std::string admin_;
};

}  // namespace sluice::testing
