#include "exporters/postgresql/postgres_sender.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "exporters/postgresql/rows.h"
#include "net/libpq.h"

namespace sluice::exporters::postgresql {
namespace {

// Bound on the tables and partitions a sender remembers as created.
constexpr size_t kMaxKnown = 100'000;
// COPY data is handed to libpq in pieces of this size.
constexpr size_t kCopyChunk = 256 * 1024;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void IgnoreNotice(void*, const char*) {}

}  // namespace

FailureKind ClassifySqlState(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return FailureKind::kRetryable;  // no server answer
  // Gone from under a cached creation: a partition dropped by retention
  // (no partition for the row), or the table itself.
  if (sqlstate == "23514" || sqlstate == "42P01") return FailureKind::kStaleCache;
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "08" || cls == "40" || cls == "53" || cls == "55" || cls == "57" || cls == "58") {
    // 08 connection, 40 serialization/deadlock, 53 resources (disk full,
    // too many connections), 55 lock not available, 57 cancel (statement
    // timeout) and shutdown, 58 I/O.
    return FailureKind::kRetryable;
  }
  return FailureKind::kPermanent;
}

Result<std::unique_ptr<PgConnection>> PgConnection::Open(const std::string& conninfo,
                                                         std::chrono::nanoseconds timeout,
                                                         Error* error) {
  if (Result<const net::LibPq*> pq = net::LoadLibPq(); !pq.ok()) {
    *error = {"", pq.status().message()};
    return pq.status();
  }
  const int64_t timeout_ms =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  // libpq counts connect_timeout in whole seconds, and takes 1 as 2.
  const std::string connect_timeout =
      std::to_string(std::max<int64_t>(2, (timeout_ms + 999) / 1000));
  // Ours first, so that what the connection string says wins: later
  // keywords override earlier ones, and the expanded dbname comes last.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {connect_timeout.c_str(), "sluice", conninfo.c_str(), nullptr};
  PGconn* conn = net::Pq().PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    *error = {"", "out of memory"};
    return Status::Unavailable(error->message);
  }
  std::unique_ptr<PgConnection> c(new PgConnection(conn, timeout));
  if (net::Pq().PQstatus(conn) == CONNECTION_BAD) {
    c->ConnectionError("connect", error);
    return Status::Unavailable(error->message);
  }
  net::Pq().PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  const Deadline deadline = c->NewDeadline();
  PostgresPollingStatusType poll = PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) {
      c->ConnectionError("connect", error);
      return Status::Unavailable(error->message);
    }
    if (!c->Wait(poll == PGRES_POLLING_WRITING, deadline, error)) {
      return Status::Unavailable(error->message);
    }
    poll = net::Pq().PQconnectPoll(conn);
  }
  if (net::Pq().PQsetnonblocking(conn, 1) != 0) {
    c->ConnectionError("set non-blocking", error);
    return Status::Unavailable(error->message);
  }
  if (!c->Exec("SET statement_timeout = " + std::to_string(timeout_ms), error)) {
    return Status::Unavailable(error->message);
  }
  return c;
}

PgConnection::~PgConnection() {
  net::Pq().PQfinish(conn_);
}

bool PgConnection::usable() const {
  return !broken_ && net::Pq().PQstatus(conn_) == CONNECTION_OK;
}

PgConnection::Deadline PgConnection::NewDeadline() const {
  // The server's statement_timeout answers first; this ends the wait for a
  // server that answers nothing.
  return std::chrono::steady_clock::now() + timeout_ + std::chrono::seconds(1);
}

bool PgConnection::ConnectionError(const char* what, Error* error) {
  broken_ = true;
  *error = {"", std::string(what) + ": " + Trim(net::Pq().PQerrorMessage(conn_))};
  return false;
}

bool PgConnection::Wait(bool write, Deadline deadline, Error* error) {
  pollfd p{};
  p.fd = net::Pq().PQsocket(conn_);
  if (p.fd < 0) return ConnectionError("no socket", error);
  p.events = static_cast<short>(POLLIN | (write ? POLLOUT : 0));
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      broken_ = true;
      *error = {"", "no answer from the server within the timeout"};
      return false;
    }
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) {
      broken_ = true;
      *error = {"", std::string("poll: ") + std::strerror(errno)};
      return false;
    }
  }
}

bool PgConnection::FlushAll(Deadline deadline, Error* error) {
  for (;;) {
    int r = net::Pq().PQflush(conn_);
    if (r == 0) return true;
    if (r < 0) return ConnectionError("send", error);
    if (!Wait(/*write=*/true, deadline, error)) return false;
    if (net::Pq().PQconsumeInput(conn_) == 0) return ConnectionError("receive", error);
  }
}

bool PgConnection::Drain(Deadline deadline, Error* error) {
  bool ok = true;
  for (;;) {
    while (net::Pq().PQisBusy(conn_)) {
      if (!Wait(/*write=*/false, deadline, error)) return false;
      if (net::Pq().PQconsumeInput(conn_) == 0) return ConnectionError("receive", error);
    }
    PGresult* res = net::Pq().PQgetResult(conn_);
    if (res == nullptr) break;
    const ExecStatusType st = net::Pq().PQresultStatus(res);
    if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
      // Not expected here; leave the copy so the connection stays in step.
      net::Pq().PQclear(res);
      broken_ = true;
      *error = {"", "unexpected COPY state"};
      return false;
    }
    if (st == PGRES_FATAL_ERROR && ok) {
      ok = false;
      const char* state = net::Pq().PQresultErrorField(res, PG_DIAG_SQLSTATE);
      *error = {state ? state : "", Trim(net::Pq().PQresultErrorMessage(res))};
    }
    net::Pq().PQclear(res);
  }
  if (!ok && error->sqlstate.empty()) broken_ = true;  // lost mid-statement
  if (net::Pq().PQstatus(conn_) != CONNECTION_OK) {
    if (ok) return ConnectionError("connection lost", error);
    broken_ = true;
  }
  return ok;
}

bool PgConnection::Exec(const std::string& sql, Error* error) {
  if (!usable()) return ConnectionError("connection lost", error);
  const Deadline deadline = NewDeadline();
  if (net::Pq().PQsendQuery(conn_, sql.c_str()) == 0) return ConnectionError("send", error);
  if (!FlushAll(deadline, error)) return false;
  return Drain(deadline, error);
}

bool PgConnection::CopyIn(const std::string& sql, std::string_view data, Error* error) {
  if (!usable()) return ConnectionError("connection lost", error);
  const Deadline deadline = NewDeadline();
  if (net::Pq().PQsendQuery(conn_, sql.c_str()) == 0) return ConnectionError("send", error);
  if (!FlushAll(deadline, error)) return false;
  while (net::Pq().PQisBusy(conn_)) {
    if (!Wait(/*write=*/false, deadline, error)) return false;
    if (net::Pq().PQconsumeInput(conn_) == 0) return ConnectionError("receive", error);
  }
  PGresult* res = net::Pq().PQgetResult(conn_);
  if (res == nullptr) return ConnectionError("COPY", error);
  const ExecStatusType st = net::Pq().PQresultStatus(res);
  if (st != PGRES_COPY_IN) {
    const char* state = net::Pq().PQresultErrorField(res, PG_DIAG_SQLSTATE);
    *error = {state ? state : "", Trim(net::Pq().PQresultErrorMessage(res))};
    net::Pq().PQclear(res);
    Error rest;
    Drain(deadline, &rest);
    if (error->sqlstate.empty()) broken_ = true;
    return false;
  }
  net::Pq().PQclear(res);
  size_t at = 0;
  while (at < data.size()) {
    const size_t n = std::min(kCopyChunk, data.size() - at);
    int r = net::Pq().PQputCopyData(conn_, data.data() + at, static_cast<int>(n));
    if (r < 0) return ConnectionError("COPY data", error);
    if (r == 0) {  // libpq's buffer is full: wait for the socket
      if (!Wait(/*write=*/true, deadline, error)) return false;
      if (net::Pq().PQconsumeInput(conn_) == 0) return ConnectionError("receive", error);
      if (net::Pq().PQflush(conn_) < 0) return ConnectionError("send", error);
      continue;
    }
    at += n;
  }
  for (;;) {
    int r = net::Pq().PQputCopyEnd(conn_, nullptr);
    if (r < 0) return ConnectionError("COPY end", error);
    if (r == 1) break;
    if (!Wait(/*write=*/true, deadline, error)) return false;
    if (net::Pq().PQflush(conn_) < 0) return ConnectionError("send", error);
  }
  if (!FlushAll(deadline, error)) return false;
  return Drain(deadline, error);
}

PostgresSender::PostgresSender(SenderSettings settings)
    : settings_(std::move(settings)), schema_(QuoteIdentifier(settings_.schema)) {}

PostgresSender::~PostgresSender() = default;

pipeline::SendResult PostgresSender::Fail(const std::string& what, const PgConnection::Error& e) {
  std::string reason = what + ": " + e.message;
  if (!e.sqlstate.empty()) reason += " (SQLSTATE " + e.sqlstate + ")";
  if (conn_ && !conn_->usable()) conn_.reset();
  switch (ClassifySqlState(e.sqlstate)) {
    case FailureKind::kRetryable:
      return pipeline::SendResult::Retryable(std::move(reason));
    case FailureKind::kStaleCache:
      known_.clear();
      return pipeline::SendResult::Retryable(std::move(reason));
    case FailureKind::kPermanent:
      break;
  }
  return pipeline::SendResult::Permanent(std::move(reason));
}

bool PostgresSender::Ensure(const std::string& key, const std::string& sql,
                            PgConnection::Error* error) {
  if (known_.count(key) > 0) return true;
  if (!conn_->Exec(sql, error)) {
    // Made meanwhile by another connection: the loser of the race for the
    // catalog rows sees duplicate_table, duplicate_object (the table's row
    // type) or unique_violation. Or already covered by a partition of
    // another interval (invalid_object_definition: would overlap).
    const std::string& s = error->sqlstate;
    if (s != "42P07" && s != "42710" && s != "23505" && s != "42P17") return false;
  }
  if (known_.size() >= kMaxKnown) known_.clear();
  known_.insert(key);
  return true;
}

pipeline::SendResult PostgresSender::Send(const pipeline::OutboundRequest& request) {
  Result<std::vector<TableRows>> decoded = DecodeRequest(request.body);
  if (!decoded.ok()) return pipeline::SendResult::Permanent(decoded.status().message());
  const std::vector<TableRows>& tables = decoded.value();
  if (tables.empty()) return pipeline::SendResult::Ok();

  PgConnection::Error error;
  if (!conn_) {
    Result<std::unique_ptr<PgConnection>> c =
        PgConnection::Open(settings_.conninfo, settings_.timeout, &error);
    if (!c.ok()) return pipeline::SendResult::Retryable(error.message);
    conn_ = std::move(c).value();
    known_.clear();
  }

  for (const TableRows& t : tables) {
    const std::string parent = schema_ + "." + QuoteIdentifier(t.table);
    if (!Ensure(t.table,
                "CREATE TABLE IF NOT EXISTS " + parent +
                    " (time timestamptz NOT NULL, dbname text NOT NULL, data jsonb NOT NULL, "
                    "tag_data jsonb) PARTITION BY RANGE (time)",
                &error)) {
      return Fail("create table " + t.table, error);
    }
    int64_t last = INT64_MIN;
    for (int64_t hour : t.hours) {
      const int64_t start = PartitionStart(hour * kSecondsPerHour, settings_.partition_seconds);
      if (start == last) continue;
      last = start;
      const std::string name = PartitionName(t.table, start, settings_.partition_seconds);
      const std::string key = t.table + '\x1f' + std::to_string(start);
      if (!Ensure(key,
                  "CREATE TABLE IF NOT EXISTS " + schema_ + "." + QuoteIdentifier(name) +
                      " PARTITION OF " + parent + " FOR VALUES FROM ('" +
                      TimestampText(start * 1000) + "') TO ('" +
                      TimestampText((start + settings_.partition_seconds) * 1000) + "')",
                  &error)) {
        return Fail("create partition " + name, error);
      }
    }
  }

  if (!conn_->Exec("BEGIN", &error)) return Fail("begin", error);
  for (const TableRows& t : tables) {
    if (!conn_->CopyIn("COPY " + schema_ + "." + QuoteIdentifier(t.table) +
                           " (time, dbname, data, tag_data) FROM STDIN",
                       t.copy, &error)) {
      PgConnection::Error ignored;
      if (conn_->usable()) conn_->Exec("ROLLBACK", &ignored);
      return Fail("copy into " + t.table, error);
    }
  }
  if (!conn_->Exec("COMMIT", &error)) return Fail("commit", error);
  return pipeline::SendResult::Ok();
}

}  // namespace sluice::exporters::postgresql
