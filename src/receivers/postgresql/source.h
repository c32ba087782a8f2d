#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "pipeline/component.h"
#include "receivers/common/ingest.h"
#include "receivers/postgresql/connection.h"
#include "receivers/postgresql/options.h"
#include "scheduler/scheduler.h"

namespace sluice::receivers::postgresql {

enum class Role : uint8_t { kUnknown, kPrimary, kStandby };

// One metric's answer, independent of the source that asked: columns sorted
// into values (numeric and boolean), labels (text; `tag_` prefix dropped)
// and the row time (`epoch_ns`). Other column types are left out.
struct Rows {
  std::vector<std::string> value_columns, label_columns;
  size_t count = 0;
  std::vector<double> values;       // count × value_columns; NaN for NULL
  std::vector<std::string> labels;  // count × label_columns; "" for NULL
  std::vector<int64_t> times_ms;    // count; 0: the fetch's time
};
Rows ToRows(const PGresult* result);

// What the sources on one server share: the last answers of its
// instance-level metrics, so that sources of several databases on it fetch
// each of them once per interval.
class Server {
 public:
  struct Entry {
    std::shared_ptr<const Rows> rows;
    Role role = Role::kUnknown;  // the server's when fetched
    int64_t fetched_mono = 0;
    int64_t claimed_mono = 0;  // a source is fetching it since; 0: none
  };
  // Decides for a source whose metric is due at `now`: nullopt means this
  // source fetches it (claimed); otherwise the answer another source
  // fetched within the interval (null while that fetch is under way: the
  // metric stays due).
  std::optional<std::shared_ptr<const Rows>> Claim(const std::string& metric, Role role,
                                                   int64_t now, int64_t interval);
  void Put(const std::string& metric, Role role, std::shared_ptr<const Rows> rows, int64_t now);
  void Release(const std::string& metric);

 private:
  Mutex mu_;
  std::map<std::string, Entry> entries_ SLUICE_GUARDED_BY(mu_);
};

class Servers {
 public:
  std::shared_ptr<Server> Get(const std::string& key);

 private:
  Mutex mu_;
  std::map<std::string, std::shared_ptr<Server>> servers_ SLUICE_GUARDED_BY(mu_);
};

// What every source of a receiver shares.
struct SourceContext {
  std::shared_ptr<const Plan> plan;
  std::string name_space;
  std::chrono::nanoseconds connect_timeout{0}, statement_timeout{0};
  ReconnectOptions reconnect;
  pipeline::Runtime* rt = nullptr;
  std::vector<pipeline::PipelineRef> pipelines;
  std::string receiver;
  IngestCounters* counters = nullptr;
  telemetry::CounterFamily* metric_errors = nullptr;  // by receiver, metric
  telemetry::Counter* connect_failures = nullptr;
  telemetry::Counter* round_trips = nullptr;
  telemetry::Counter* shared = nullptr;  // instance-level answers taken from another source
  Servers servers;
};

// One source's loop, run by the scheduler every `tick` (the GCD of its
// metrics' intervals) after the previous tick ended. A tick:
//   - connects when not connected (after the reconnect backoff: jittered,
//     doubling from reconnect.initial_interval to max_interval) and runs
//     the metrics' init_sql;
//   - sends, in one round trip, `select pg_is_in_recovery()` and every
//     metric due (each preceded by `SET statement_timeout` when its timeout
//     differs from the session's), chosen by the role the last tick saw
//     (primary- and standby-only metrics wait for the first tick's answer);
//     instance-level metrics that another source on the same server fetched
//     within their interval are taken from it instead;
//   - drops the answers of metrics whose node_status does not match the
//     role read in this tick, stores the others' rows as series into the
//     log with `pg_up` 1, and counts each metric's next run from the end of
//     this fetch.
// A failed connection or round trip, or one past its deadline, closes the
// connection and stores `pg_up` 0; a statement's own error is counted
// against its metric and does not touch the others.
//
// Thread-safety: runs on its strand; one tick at a time.
class SourceLoop : public std::enable_shared_from_this<SourceLoop> {
 public:
  SourceLoop(SourceContext& ctx, const SourcePlan& plan, uint64_t seed);

  // The scheduler's run. A tick is bounded by its own deadlines
  // (connect_timeout, then the statement timeouts of what it sends and a
  // second), which TickBound adds up.
  void Run(scheduler::Done done);
  // Closes the connection (on the strand).
  void Close();

 private:
  struct Sent {
    const Planned* planned = nullptr;  // null: a SET
    bool claimed = false;              // of the server's instance-level entry
  };

  void Tick();
  // Connects to `hostaddr` (empty: libpq resolves the name itself).
  void Connect(const std::string& hostaddr);
  void Fetch();
  void Answered(Status st, std::vector<StatementResult> results);
  void Failed(const Status& st);
  void EndTick(bool up);
  void Emit(const pgmetrics::Metric& metric, const Rows& rows);
  void AppendSeries(std::vector<std::pair<std::string_view, std::string_view>>& labels,
                    double value, int64_t ts);
  void ReleaseClaims();
  int64_t Now() const;

  SourceContext& ctx_;
  const SourcePlan& plan_;
  Connection::Strand strand_;
  std::shared_ptr<Connection> conn_;
  // The host name resolved on the I/O threads before each connection (so
  // libpq, which would resolve it blocking the thread, gets an address),
  // and its port; empty when the connection string names an address, a
  // socket directory or several hosts.
  std::string resolve_host_, resolve_port_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer resolve_timer_;
  std::shared_ptr<Server> server_;
  std::mt19937_64 rng_;

  Role role_ = Role::kUnknown;
  int major_ = 0;
  int64_t session_timeout_ms_ = -1;  // statement_timeout set on the session
  bool up_ = true;                   // as last stored (log transitions only)
  int failures_ = 0;                 // connection failures in a row
  int64_t next_connect_ = 0;         // monotonic
  std::map<std::string, int64_t> next_due_;

  // The tick under way.
  scheduler::Done done_;
  int64_t tick_unix_ms_ = 0;
  std::vector<Sent> sent_;
  std::string payload_;
  uint64_t items_ = 0;
  int64_t min_ms_ = 0, max_ms_ = 0;
  std::string label_scratch_;
};

}  // namespace sluice::receivers::postgresql
