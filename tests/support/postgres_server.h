#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "support/process.h"

namespace sluice::testing {

// A PostgreSQL server of the Debian package (/usr/lib/postgresql/<v>/bin),
// made with initdb in a directory of the test and listening on 127.0.0.1 on
// a free port; trust authentication for the user `postgres`. As root, every
// server program runs as the `postgres` user (initdb refuses root). The
// destructor stops the server (immediate mode).
class PostgresServer {
 public:
  // True when initdb is installed.
  static bool Available();
  // initdb into `dir` (created) and start. `settings` are extra
  // "name=value" server settings (postgres -c). Error saying which step
  // failed, with its output.
  static Result<std::unique_ptr<PostgresServer>> Start(const std::string& dir,
                                                       std::vector<std::string> settings = {});
  // A streaming standby of `primary` made with pg_basebackup -R into `dir`,
  // started and in recovery when this returns.
  static Result<std::unique_ptr<PostgresServer>> StartStandby(const PostgresServer& primary,
                                                              const std::string& dir);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // libpq key=value connection string for `dbname`.
  std::string ConnStr(const std::string& dbname = "postgres") const;
  // The postmaster's pid while running, else -1.
  pid_t pid() const;

  // Runs `sql` (one or more statements) on a new connection; the rows of
  // the last statement, every value as text (NULL as "").
  Result<std::vector<std::vector<std::string>>> Query(const std::string& sql,
                                                      const std::string& dbname = "postgres") const;
  // The first value of the first row of Query, or the error's text.
  std::string Value(const std::string& sql, const std::string& dbname = "postgres") const;

  // SIGKILL the postmaster (its backends exit as it is gone).
  void Kill();
  // SIGSTOP / SIGCONT every process of the server: it accepts connections
  // no more and answers nothing, like a hung host.
  void Freeze();
  void Thaw();
  // Starts the server again in the same directory on the same port.
  Status Restart();
  // Stops the server (fast mode) and waits.
  void Stop();
  // The server's log so far (log_statement etc. go there).
  std::string Log() const;

 private:
  PostgresServer(std::string bin, std::string dir, int port, std::vector<std::string> settings);
  Status Launch();

  const std::string bin_;
  const std::string dir_;
  const int port_;
  const std::vector<std::string> settings_;
  std::unique_ptr<Process> process_;
  int launches_ = 0;
};

}  // namespace sluice::testing
