#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace sluice::testing {

// A child process whose stdout and stderr go to one file that tests can
// search. The destructor kills a child that is still running.
class Process {
 public:
  Process(std::string binary, std::vector<std::string> args, std::string output_file,
          std::string cwd = "");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Everything the child has written so far.
  std::string Output() const;
  // Waits for a line matching `pattern`; returns capture group 1 (or the
  // whole match) or nullopt on timeout or exit.
  std::optional<std::string> WaitForOutput(const std::string& pattern,
                                           std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Waits for exit; returns the exit code, 128+signal if killed, or nullopt
  // on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::string output_file_;
  std::optional<int> exit_code_;
};

// Runs a command to completion and returns {exit code, output}.
struct RunResult {
  int exit_code;
  std::string output;
};
RunResult RunToCompletion(const std::string& binary, const std::vector<std::string>& args,
                          const std::string& scratch_dir,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace sluice::testing
