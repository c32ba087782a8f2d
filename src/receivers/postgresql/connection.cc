#include "receivers/postgresql/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/bind_executor.hpp>

namespace sluice::receivers::postgresql {
namespace {

std::string Message(PGconn* c) {
  std::string m = c ? net::Pq().PQerrorMessage(c) : "out of memory";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m.empty() ? "connection failed" : m;
}

// Holds a TCP socket's partial segments back while set. A Unix socket
// refuses the option, which is harmless: it has no segments.
void Cork(int fd, bool on) {
  const int v = on ? 1 : 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
}

}  // namespace

Connection::Connection(Strand strand) : strand_(strand), timer_(strand) {}

Connection::~Connection() {
  Close();
}

void Connection::Close() {
  timer_.cancel();
  if (sd_) {
    boost::system::error_code ec;
    sd_->cancel(ec);
    sd_->close(ec);  // the duplicate; libpq closes its own
    sd_.reset();
  }
  fd_ = -1;
  if (conn_ != nullptr) {
    net::Pq().PQfinish(conn_);
    conn_ = nullptr;
  }
}

Status Connection::SyncSocket() {
  const int fd = net::Pq().PQsocket(conn_);
  if (fd < 0) return Status::Unavailable("no socket");
  if (fd == fd_ && sd_) return Status::Ok();
  if (sd_) {
    boost::system::error_code ec;
    sd_->close(ec);
  }
  // A duplicate: asio registers it with its reactor and closes it, while
  // libpq keeps and closes its own descriptor of the same socket.
  const int dup = ::dup(fd);
  if (dup < 0) return Status::Unavailable("dup failed");
  sd_ = std::make_unique<boost::asio::posix::stream_descriptor>(strand_, dup);
  fd_ = fd;
  return Status::Ok();
}

void Connection::ArmDeadline(std::chrono::steady_clock::time_point deadline) {
  timed_out_ = false;
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || !self->sd_) return;
    // The wait in progress ends with operation_aborted and fails the
    // operation.
    self->timed_out_ = true;
    boost::system::error_code ignored;
    self->sd_->cancel(ignored);
  });
}

void Connection::WaitSocket(Wait w, std::function<void()> next) {
  Status st = SyncSocket();
  if (!st.ok()) return Finish(st);
  sd_->async_wait(
      w == Wait::kRead ? boost::asio::posix::stream_descriptor::wait_read
                       : boost::asio::posix::stream_descriptor::wait_write,
      boost::asio::bind_executor(strand_, [self = shared_from_this(), next = std::move(next)](
                                              const boost::system::error_code& ec) {
        if (self->timed_out_) {
          return self->Finish(Status::Unavailable("no answer by the deadline"));
        }
        if (ec) return self->Finish(Status::Unavailable(ec.message()));
        next();
      }));
}

void Connection::Finish(Status st) {
  timer_.cancel();
  if (!st.ok()) Close();
  if (done_) {
    Done d = std::move(done_);
    done_ = nullptr;
    d(std::move(st));
  } else if (results_done_) {
    Results d = std::move(results_done_);
    results_done_ = nullptr;
    std::vector<StatementResult> r = std::move(results_);
    results_.clear();
    if (!st.ok()) r.clear();
    d(std::move(st), std::move(r));
  }
}

void Connection::Connect(const std::string& conninfo, const std::string& hostaddr,
                         std::chrono::steady_clock::time_point deadline,
                         std::vector<std::string> init, Done done) {
  Close();
  done_ = std::move(done);
  init_ = std::move(init);
  init_error_.clear();
  init_failures_.clear();
  if (hostaddr.empty()) {
    conn_ = net::Pq().PQconnectStart(conninfo.c_str());
  } else {
    char* error = nullptr;
    PQconninfoOption* options = net::Pq().PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
      std::string e = error ? error : "cannot parse the connection string";
      net::Pq().PQfreemem(error);
      return Finish(Status::Unavailable(e));
    }
    std::vector<const char*> keys, values;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
      if (o->val == nullptr || std::string_view(o->keyword) == "hostaddr") continue;
      keys.push_back(o->keyword);
      values.push_back(o->val);
    }
    keys.push_back("hostaddr");
    values.push_back(hostaddr.c_str());
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = net::Pq().PQconnectStartParams(keys.data(), values.data(), 0);
    net::Pq().PQconninfoFree(options);
  }
  if (conn_ == nullptr || net::Pq().PQstatus(conn_) == CONNECTION_BAD) {
    return Finish(Status::Unavailable(Message(conn_)));
  }
  ArmDeadline(deadline);
  poll_ = PGRES_POLLING_WRITING;
  PollConnect();
}

void Connection::PollConnect() {
  switch (poll_) {
    case PGRES_POLLING_OK:
      if (net::Pq().PQsetnonblocking(conn_, 1) != 0)
        return Finish(Status::Unavailable(Message(conn_)));
      return RunInit();
    case PGRES_POLLING_FAILED:
      return Finish(Status::Unavailable(Message(conn_)));
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
    default:
      return WaitSocket(poll_ == PGRES_POLLING_READING ? Wait::kRead : Wait::kWrite, [this] {
        poll_ = net::Pq().PQconnectPoll(conn_);
        PollConnect();
      });
  }
}

void Connection::RunInit() {
  if (init_.empty()) {
    if (net::Pq().PQenterPipelineMode(conn_) != 1)
      return Finish(Status::Unavailable(Message(conn_)));
    return Finish(Status::Ok());
  }
  const std::string sql = std::move(init_.front());
  init_.erase(init_.begin());
  if (net::Pq().PQsendQuery(conn_, sql.c_str()) != 1)
    return Finish(Status::Unavailable(Message(conn_)));
  FlushThen([this] { ReadInit(); });
}

void Connection::ReadInit() {
  if (net::Pq().PQconsumeInput(conn_) != 1) return Finish(Status::Unavailable(Message(conn_)));
  while (net::Pq().PQisBusy(conn_) == 0) {
    PGresult* r = net::Pq().PQgetResult(conn_);
    if (r == nullptr) {
      // This init statement is done: the next, or fail when it failed (the
      // metric's definition cannot run here).
      if (!init_error_.empty()) init_failures_.push_back(std::move(init_error_));
      init_error_.clear();
      return RunInit();
    }
    if (net::Pq().PQresultStatus(r) == PGRES_FATAL_ERROR && init_error_.empty()) {
      init_error_ = net::Pq().PQresultErrorMessage(r);
    }
    net::Pq().PQclear(r);
  }
  WaitSocket(Wait::kRead, [this] { ReadInit(); });
}

void Connection::FlushThen(std::function<void()> next) {
  const int r = net::Pq().PQflush(conn_);
  if (r < 0) return Finish(Status::Unavailable(Message(conn_)));
  if (r == 0) return WaitSocket(Wait::kRead, std::move(next));
  // The socket's buffer is full: wait until it drains. (The statements of
  // a tick are a few kilobytes, far below a socket buffer, so the server
  // is never blocked writing answers that nobody reads meanwhile.)
  WaitSocket(Wait::kWrite,
             [this, next = std::move(next)]() mutable { FlushThen(std::move(next)); });
}

void Connection::RoundTrip(const std::vector<std::string>& statements,
                           std::chrono::steady_clock::time_point deadline, Results done) {
  results_done_ = std::move(done);
  results_.clear();
  results_.resize(statements.size());
  statements_ = statements.size();
  syncs_ = 0;
  if (!connected()) return Finish(Status::Unavailable("not connected"));
  ArmDeadline(deadline);
  // libpq before 17 flushes at every PQpipelineSync, so each statement
  // would leave in a segment of its own and the server could answer the
  // first before the last had left: corked, the tick's statements leave
  // together, as one request.
  Cork(fd_, true);
  for (const std::string& sql : statements) {
    if (net::Pq().PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) !=
            1 ||
        net::Pq().PQpipelineSync(conn_) != 1) {
      Cork(fd_, false);
      return Finish(Status::Unavailable(Message(conn_)));
    }
  }
  Cork(fd_, false);
  FlushThen([this] { ReadResults(); });
}

void Connection::ReadResults() {
  if (net::Pq().PQconsumeInput(conn_) != 1) return Finish(Status::Unavailable(Message(conn_)));
  int nulls = 0;
  while (net::Pq().PQisBusy(conn_) == 0) {
    PGresult* r = net::Pq().PQgetResult(conn_);
    if (r == nullptr) {
      // The end of one statement's results; twice in a row: nothing more
      // has arrived yet.
      if (++nulls == 2) break;
      continue;
    }
    nulls = 0;
    switch (net::Pq().PQresultStatus(r)) {
      case PGRES_PIPELINE_SYNC:
        net::Pq().PQclear(r);
        if (++syncs_ == statements_) return Finish(Status::Ok());
        break;
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        if (syncs_ < results_.size())
          results_[syncs_].result.reset(r);
        else
          net::Pq().PQclear(r);
        break;
      case PGRES_PIPELINE_ABORTED:
        if (syncs_ < results_.size()) results_[syncs_].error = "aborted";
        net::Pq().PQclear(r);
        break;
      default: {
        std::string e = net::Pq().PQresultErrorMessage(r);
        while (!e.empty() && e.back() == '\n') e.pop_back();
        if (syncs_ < results_.size()) results_[syncs_].error = e.empty() ? "failed" : e;
        net::Pq().PQclear(r);
        break;
      }
    }
  }
  if (net::Pq().PQstatus(conn_) == CONNECTION_BAD)
    return Finish(Status::Unavailable(Message(conn_)));
  WaitSocket(Wait::kRead, [this] { ReadResults(); });
}

}  // namespace sluice::receivers::postgresql
