#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::testing {

Process::Process(std::string binary, std::vector<std::string> args, std::string output_file,
                 std::string cwd)
    : output_file_(std::move(output_file)) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(output_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> argv;
    argv.push_back(binary.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
}

std::string Process::Output() const {
  std::ifstream in(output_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> Process::WaitForOutput(const std::string& pattern,
                                                  std::chrono::milliseconds timeout) {
  std::regex re(pattern);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string out = Output();
    std::smatch m;
    if (std::regex_search(out, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
    if (exit_code_) return std::nullopt;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      continue;  // one more look at the final output
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

RunResult RunToCompletion(const std::string& binary, const std::vector<std::string>& args,
                          const std::string& scratch_dir, std::chrono::milliseconds timeout) {
  static int counter = 0;
  std::string out = scratch_dir + "/run-" + std::to_string(++counter) + ".out";
  Process p(binary, args, out, scratch_dir);
  std::optional<int> code = p.Wait(timeout);
  return RunResult{code.value_or(-1), p.Output()};
}

}  // namespace sluice::testing
