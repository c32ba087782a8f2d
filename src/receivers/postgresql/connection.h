#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "net/libpq.h"

namespace sluice::receivers::postgresql {

struct ResultDeleter {
  void operator()(PGresult* r) const { net::Pq().PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// One statement's outcome in a round trip: its result, or the server's
// error.
struct StatementResult {
  ResultPtr result;
  std::string error;  // empty when ok
};

// One libpq connection driven by asio without blocking a thread: the
// connection is made with PQconnectStart/PQconnectPoll and every exchange
// waits on the socket through the I/O threads. Round trips use libpq's
// pipeline mode: every statement is sent, each followed by a sync (so one
// statement's error aborts no other), in one flush, and the answers are
// read after; one network round trip however many statements.
//
// Every operation has a deadline; past it the connection is closed and the
// operation fails with Unavailable (a server that hangs cannot stall
// the caller).
//
// Thread-safety: every method and every callback on `strand`; one operation
// at a time.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  using Done = std::function<void(Status)>;
  using Results = std::function<void(Status, std::vector<StatementResult>)>;

  explicit Connection(Strand strand);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects (with `hostaddr` added to `conninfo` when not empty: an
  // address resolved beforehand, so libpq does not resolve the host name
  // itself), then runs each of `init` (simple protocol, several
  // statements allowed; one that fails is reported by init_failures() and
  // does not fail the connection), and enters pipeline mode. Unavailable
  // with libpq's message on failure.
  void Connect(const std::string& conninfo, const std::string& hostaddr,
               std::chrono::steady_clock::time_point deadline, std::vector<std::string> init,
               Done done);
  // Sends `statements` (one SQL statement each, no parameters) in one
  // pipeline and collects every answer. The Status is a failure of the
  // connection itself (the connection is then closed); a statement's
  // own error is in its StatementResult.
  void RoundTrip(const std::vector<std::string>& statements,
                 std::chrono::steady_clock::time_point deadline, Results done);
  void Close();

  // The errors of the last Connect's init statements.
  const std::vector<std::string>& init_failures() const { return init_failures_; }
  // Where the connection went: "host:port".
  std::string server() const {
    return conn_ ? std::string(net::Pq().PQhost(conn_)) + ":" + net::Pq().PQport(conn_)
                 : std::string();
  }
  bool connected() const { return conn_ != nullptr && net::Pq().PQstatus(conn_) == CONNECTION_OK; }
  int server_version() const { return conn_ ? net::Pq().PQserverVersion(conn_) : 0; }

 private:
  enum class Wait : uint8_t { kRead, kWrite };
  // Waits for the socket, then calls `next` (or fails the operation at the
  // deadline).
  void WaitSocket(Wait w, std::function<void()> next);
  void ArmDeadline(std::chrono::steady_clock::time_point deadline);
  // Ends the running operation.
  void Finish(Status st);
  Status SyncSocket();

  void PollConnect();
  void RunInit();
  void ReadInit();
  void FlushThen(std::function<void()> next);
  void ReadResults();

  Strand strand_;
  PGconn* conn_ = nullptr;
  int fd_ = -1;  // libpq's socket that sd_ holds a duplicate of
  std::unique_ptr<boost::asio::posix::stream_descriptor> sd_;
  boost::asio::steady_timer timer_;
  bool timed_out_ = false;

  // The running operation.
  Done done_;
  Results results_done_;
  PostgresPollingStatusType poll_ = PGRES_POLLING_WRITING;
  std::vector<std::string> init_;
  std::string init_error_;
  std::vector<std::string> init_failures_;
  size_t statements_ = 0;  // in the round trip
  size_t syncs_ = 0;       // seen
  std::vector<StatementResult> results_;
};

}  // namespace sluice::receivers::postgresql
