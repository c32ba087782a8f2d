#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/mutex.h"
#include "log/log.h"
#include "net/http_server.h"
#include "query/logs.h"
#include "telemetry/metrics.h"

namespace sluice::query {

// Live tails of the logs (GET /api/v1/logs/tail): each client's filter and
// its server-sent event stream. The index reader offers every logs batch it
// reads; each record that passes a client's filter goes to that client as
// one `data:` line. A client that does not read its stream fast enough
// loses records (counted), and is told how many with an `event: dropped`.
//
// Thread-safety: all methods from any thread.
class LogTail {
 public:
  LogTail(telemetry::Registry& metrics, size_t max_clients);
  ~LogTail();

  // A stream for a new client with this filter; null when max_clients are
  // open.
  std::shared_ptr<net::ResponseStream> Open(LogQuery filter);
  // Offers a stored batch (logs batches of OTLP records are read).
  void Offer(const log::LogReader::Batch& batch);
  // A comment line to every client (so idle streams stay open and clients
  // that left are found), at most every 15 s of `now`.
  void KeepAlive(int64_t now_unix_nano);
  // Ends every stream (at stop).
  void CloseAll();

 private:
  struct Client {
    LogQuery filter;
    std::shared_ptr<net::ResponseStream> stream;
    uint64_t dropped = 0;  // records lost since the client was last told
  };
  // Sends `event` to `c`, after telling it of records it lost.
  void Send(Client& c, std::string event) SLUICE_REQUIRES(mu_);
  void Prune() SLUICE_REQUIRES(mu_);

  const size_t max_clients_;
  telemetry::Counter& dropped_;
  telemetry::Gauge& open_;
  std::atomic<size_t> count_{0};
  mutable Mutex mu_;
  std::vector<Client> clients_ SLUICE_GUARDED_BY(mu_);
  int64_t last_keep_alive_ SLUICE_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::query
