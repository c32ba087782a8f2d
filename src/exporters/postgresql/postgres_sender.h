#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/result.h"
#include "pipeline/sender.h"

typedef struct pg_conn PGconn;

namespace sluice::exporters::postgresql {

// What a failed statement (by its SQLSTATE) calls for.
enum class FailureKind {
  kRetryable,  // connection loss (08, no SQLSTATE), 57014 cancel, 40xxx, 53xxx, 55, 57, 58
  // A table or partition this connection created is gone (dropped by
  // retention): forget what was created and try again.
  kStaleCache,
  kPermanent,  // data (22), syntax and access (42), constraints (23) and the rest
};
FailureKind ClassifySqlState(std::string_view sqlstate);

// One libpq connection driven without blocking, so every step ends by a
// deadline even when the server stops answering (a frozen host): the client
// waits at most `timeout` plus a second beyond the server's
// statement_timeout. Not thread-safe; one per delivery worker.
class PgConnection {
 public:
  struct Error {
    std::string sqlstate;  // empty: the connection failed or timed out
    std::string message;
  };
  // Connects with connect_timeout (whole seconds, at least 2) and
  // application_name `sluice` unless `conninfo` sets them, then sets
  // statement_timeout to `timeout`.
  static Result<std::unique_ptr<PgConnection>> Open(const std::string& conninfo,
                                                    std::chrono::nanoseconds timeout, Error* error);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement (simple query); false with *error set on failure.
  bool Exec(const std::string& sql, Error* error);
  // COPY ... FROM STDIN of `data` (COPY's text format).
  bool CopyIn(const std::string& sql, std::string_view data, Error* error);
  // False once the connection is lost or timed out: it must be replaced.
  bool usable() const;

 private:
  PgConnection(PGconn* conn, std::chrono::nanoseconds timeout) : conn_(conn), timeout_(timeout) {}
  using Deadline = std::chrono::steady_clock::time_point;
  Deadline NewDeadline() const;
  // Waits for the socket to be readable (and writable when `write`).
  bool Wait(bool write, Deadline deadline, Error* error);
  bool FlushAll(Deadline deadline, Error* error);
  // Reads results until the last; the first error among them is reported.
  bool Drain(Deadline deadline, Error* error);
  bool ConnectionError(const char* what, Error* error);

  PGconn* conn_;
  const std::chrono::nanoseconds timeout_;
  bool broken_ = false;
};

struct SenderSettings {
  std::string conninfo;
  std::string schema;
  int64_t partition_seconds = 86400;
  std::chrono::nanoseconds timeout = std::chrono::seconds(30);
};

// Writes a request's rows (rows.h) over its own connection:
//   1. tables and partitions not yet known to exist on this connection:
//      CREATE TABLE IF NOT EXISTS, each statement its own transaction, so
//      the parent's lock is held only for the creation; a concurrent
//      creator's duplicate_table / unique_violation, or a partition of
//      another interval already covering the range, counts as created;
//   2. BEGIN, one COPY per table, COMMIT.
// A failure rolls back; it is retryable or permanent per ClassifySqlState.
// The connection is made on first use and again after it was lost.
class PostgresSender final : public pipeline::Sender {
 public:
  explicit PostgresSender(SenderSettings settings);
  ~PostgresSender() override;
  pipeline::SendResult Send(const pipeline::OutboundRequest& request) override;

 private:
  pipeline::SendResult Fail(const std::string& what, const PgConnection::Error& e);
  // Creates `sql`'s object unless `key` is known; false with *error on failure.
  bool Ensure(const std::string& key, const std::string& sql, PgConnection::Error* error);

  // A copy: a sender may outlive the options it was made from.
  const SenderSettings settings_;
  const std::string schema_;  // quoted
  std::unique_ptr<PgConnection> conn_;
  // Tables ("t") and partitions ("t\x1f<start>") known to exist; cleared
  // past a bound, with a new connection, and when one was found missing.
  std::unordered_set<std::string> known_;
};

}  // namespace sluice::exporters::postgresql
