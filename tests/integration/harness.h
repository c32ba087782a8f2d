#pragma once

#include <fstream>
#include <optional>
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

  // Waits until the receiver and admin addresses are logged.
  bool WaitStarted() {
    auto otlp = process_->WaitForOutput(R"re(receiver=otlp address="http ([0-9.]+:[0-9]+)")re",
                                        std::chrono::seconds(30));
    auto admin = process_->WaitForOutput(R"re(admin=([0-9.]+:[0-9]+))re", std::chrono::seconds(30));
    if (!otlp || !admin) return false;
    otlp_ = *otlp;
    admin_ = *admin;
    return true;
  }

  const std::string& otlp() const { return otlp_; }
  const std::string& admin() const { return admin_; }
  Process& process() { return *process_; }

 private:
  std::string config_path_;
  std::unique_ptr<Process> process_;
  std::string otlp_;
  std::string admin_;
};

}  // namespace sluice::testing
