#include "receivers/postgresql/source.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "base/logging.h"
#include "pgmetrics/metrics.h"
#include "wire/prom/encode.h"
#include "wire/prom/labels.h"

namespace sluice::receivers::postgresql {
namespace {

// Type OIDs (pg_type.dat) of the columns a metric may return.
enum : Oid {
  kBool = 16,
  kChar = 18,
  kName = 19,
  kInt8 = 20,
  kInt2 = 21,
  kInt4 = 23,
  kText = 25,
  kOid = 26,
  kFloat4 = 700,
  kFloat8 = 701,
  kBpchar = 1042,
  kVarchar = 1043,
  kNumeric = 1700,
};

bool IsNumeric(Oid t) {
  return t == kInt2 || t == kInt4 || t == kInt8 || t == kOid || t == kFloat4 || t == kFloat8 ||
         t == kNumeric || t == kBool;
}
bool IsText(Oid t) {
  return t == kText || t == kVarchar || t == kName || t == kBpchar || t == kChar;
}

// A label name from a column name: [a-zA-Z_][a-zA-Z0-9_]*.
std::string LabelName(std::string_view column) {
  std::string out(column);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

int64_t MonoNow(pipeline::Runtime& rt) {
  return rt.clock.MonotonicNanos();
}

// The host name of `conninfo` that needs resolving, and its port; {"", ""}
// when it names an address (or hostaddr is set), a socket directory, or
// several hosts.
std::pair<std::string, std::string> NameToResolve(const std::string& conninfo) {
  PQconninfoOption* options = net::Pq().PQconninfoParse(conninfo.c_str(), nullptr);
  if (options == nullptr) return {};
  std::string host, hostaddr, port = "5432";
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view k = o->keyword;
    if (k == "host") host = o->val;
    if (k == "hostaddr") hostaddr = o->val;
    if (k == "port") port = o->val;
  }
  net::Pq().PQconninfoFree(options);
  if (host.empty() || !hostaddr.empty() || host[0] == '/' || host[0] == '@' ||
      host.find(',') != std::string::npos || port.find(',') != std::string::npos) {
    return {};
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    return {};
  }
  return {host, port};
}

}  // namespace

Rows ToRows(const PGresult* r) {
  Rows rows;
  const int fields = net::Pq().PQnfields(r);
  enum class Kind : uint8_t { kSkip, kValue, kLabel, kTime };
  std::vector<Kind> kinds(fields, Kind::kSkip);
  for (int j = 0; j < fields; ++j) {
    const std::string_view name = net::Pq().PQfname(r, j);
    const Oid t = net::Pq().PQftype(r, j);
    if (name == "epoch_ns" && IsNumeric(t)) {
      kinds[j] = Kind::kTime;
    } else if (IsNumeric(t)) {
      kinds[j] = Kind::kValue;
      rows.value_columns.emplace_back(name);
    } else if (IsText(t)) {
      kinds[j] = Kind::kLabel;
      rows.label_columns.push_back(LabelName(name.starts_with("tag_") ? name.substr(4) : name));
    }
  }
  rows.count = static_cast<size_t>(net::Pq().PQntuples(r));
  rows.values.reserve(rows.count * rows.value_columns.size());
  rows.labels.reserve(rows.count * rows.label_columns.size());
  rows.times_ms.assign(rows.count, 0);
  for (int i = 0; i < static_cast<int>(rows.count); ++i) {
    for (int j = 0; j < fields; ++j) {
      const bool null = net::Pq().PQgetisnull(r, i, j) != 0;
      const char* v = net::Pq().PQgetvalue(r, i, j);
      switch (kinds[j]) {
        case Kind::kValue:
          if (null) {
            rows.values.push_back(std::numeric_limits<double>::quiet_NaN());
          } else if (net::Pq().PQftype(r, j) == kBool) {
            rows.values.push_back(v[0] == 't' ? 1.0 : 0.0);
          } else {
            rows.values.push_back(std::strtod(v, nullptr));
          }
          break;
        case Kind::kLabel:
          rows.labels.emplace_back(null ? "" : v);
          break;
        case Kind::kTime:
          if (!null) rows.times_ms[i] = std::strtoll(v, nullptr, 10) / 1'000'000;
          break;
        case Kind::kSkip:
          break;
      }
    }
  }
  return rows;
}

std::optional<std::shared_ptr<const Rows>> Server::Claim(const std::string& metric, Role role,
                                                         int64_t now, int64_t interval) {
  MutexLock lock(mu_);
  Entry& e = entries_[metric];
  if (e.claimed_mono != 0 && now - e.claimed_mono < interval) {
    if (e.rows && e.fetched_mono >= e.claimed_mono && e.role == role) {
      return e.rows;
    }
    if (e.fetched_mono < e.claimed_mono) return std::shared_ptr<const Rows>();  // under way
  }
  e.claimed_mono = now;
  return std::nullopt;
}

void Server::Put(const std::string& metric, Role role, std::shared_ptr<const Rows> rows,
                 int64_t now) {
  MutexLock lock(mu_);
  Entry& e = entries_[metric];
  e.rows = std::move(rows);
  e.role = role;
  e.fetched_mono = std::max(now, e.claimed_mono);
}

void Server::Release(const std::string& metric) {
  MutexLock lock(mu_);
  auto it = entries_.find(metric);
  if (it != entries_.end() && it->second.fetched_mono < it->second.claimed_mono) {
    it->second.claimed_mono = 0;
  }
}

std::shared_ptr<Server> Servers::Get(const std::string& key) {
  MutexLock lock(mu_);
  std::shared_ptr<Server>& s = servers_[key];
  if (!s) s = std::make_shared<Server>();
  return s;
}

SourceLoop::SourceLoop(SourceContext& ctx, const SourcePlan& plan, uint64_t seed)
    : ctx_(ctx),
      plan_(plan),
      strand_(boost::asio::make_strand(ctx.rt->io)),
      conn_(std::make_shared<Connection>(strand_)),
      resolver_(strand_),
      resolve_timer_(strand_),
      rng_(seed) {
  std::tie(resolve_host_, resolve_port_) = NameToResolve(plan.source.conn_str);
}

int64_t SourceLoop::Now() const {
  return MonoNow(*ctx_.rt);
}

void SourceLoop::Run(scheduler::Done done) {
  boost::asio::post(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->done_ = std::move(done);
    self->Tick();
  });
}

void SourceLoop::Close() {
  boost::asio::post(strand_, [conn = conn_] { conn->Close(); });
}

void SourceLoop::Tick() {
  tick_unix_ms_ = ctx_.rt->clock.NowUnixNanos() / 1'000'000;
  payload_.clear();
  items_ = 0;
  min_ms_ = max_ms_ = tick_unix_ms_;
  sent_.clear();
  if (conn_->connected()) return Fetch();
  if (Now() < next_connect_) return EndTick(false);  // backing off
  if (resolve_host_.empty()) return Connect("");
  // The name is resolved off the I/O threads (asio's resolver thread),
  // within connect_timeout.
  resolve_timer_.expires_after(ctx_.connect_timeout);
  resolve_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->resolver_.cancel();
  });
  resolver_.async_resolve(
      resolve_host_, resolve_port_,
      [self = shared_from_this()](const boost::system::error_code& ec,
                                  boost::asio::ip::tcp::resolver::results_type results) {
        self->resolve_timer_.cancel();
        if (ec || results.empty()) {
          return self->Failed(Status::Unavailable("cannot resolve " + self->resolve_host_ + ": " +
                                                  (ec ? ec.message() : std::string("no address"))));
        }
        self->Connect(results.begin()->endpoint().address().to_string());
      });
}

void SourceLoop::Connect(const std::string& hostaddr) {
  std::vector<std::string> init;
  for (const auto* list : {&plan_.primary, &plan_.standby}) {
    for (const Planned& p : *list) {
      if (!p.metric->init_sql.empty() &&
          std::find(init.begin(), init.end(), p.metric->init_sql) == init.end()) {
        init.push_back(p.metric->init_sql);
      }
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + ctx_.connect_timeout;
  conn_->Connect(plan_.source.conn_str, hostaddr, deadline, std::move(init),
                 [self = shared_from_this()](Status st) {
                   if (!st.ok()) return self->Failed(st);
                   for (const std::string& e : self->conn_->init_failures()) {
                     logging::Warn("postgresql", "init_sql failed",
                                   {{"source", self->plan_.source.name}, {"error", e}});
                   }
                   self->failures_ = 0;
                   self->session_timeout_ms_ = -1;
                   self->major_ = self->conn_->server_version() / 10000;
                   self->server_ = self->ctx_.servers.Get(self->conn_->server());
                   self->Fetch();
                 });
}

void SourceLoop::Fetch() {
  const std::vector<Planned>& list = role_ == Role::kStandby ? plan_.standby : plan_.primary;
  std::vector<std::string> statements = {"select pg_is_in_recovery()"};
  sent_.push_back(Sent{});
  const int64_t now = Now();
  int64_t total_ms = 0;
  for (const Planned& p : list) {
    const pgmetrics::Metric& m = *p.metric;
    auto due = next_due_.find(m.name);
    if (due != next_due_.end() && now < due->second) continue;
    // Role-bound metrics wait for the role (the first tick of a source
    // reads it), so none is sent to a server of the other role.
    if (m.node_status != pgmetrics::NodeStatus::kAny &&
        (role_ == Role::kUnknown ||
         (m.node_status == pgmetrics::NodeStatus::kPrimary) != (role_ == Role::kPrimary))) {
      continue;
    }
    const std::string* sql = m.SqlFor(major_);
    if (sql == nullptr) continue;  // needs a newer server
    bool claimed = false;
    if (m.is_instance_level && server_ && role_ != Role::kUnknown) {
      std::optional<std::shared_ptr<const Rows>> taken =
          server_->Claim(m.name, role_, now, p.interval.count());
      if (taken) {
        if (*taken) {
          ctx_.shared->Inc();
          Emit(m, **taken);
          next_due_[m.name] = now + p.interval.count();
        }
        continue;
      }
      claimed = true;
    }
    const int64_t timeout_ms = StatementTimeoutMs(m, plan_.source, ctx_.statement_timeout);
    if (timeout_ms != session_timeout_ms_) {
      statements.push_back("SET statement_timeout = " + std::to_string(timeout_ms));
      sent_.push_back(Sent{});
      session_timeout_ms_ = timeout_ms;
    }
    statements.push_back(*sql);
    sent_.push_back(Sent{&p, claimed});
    total_ms += timeout_ms;
  }
  // Every statement may take its whole timeout, one after the other; a
  // server that answers nothing is given that and a second more (and at
  // least one statement timeout, for the role query alone).
  const int64_t floor_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.statement_timeout).count();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max(total_ms, floor_ms) + 1000);
  ctx_.round_trips->Inc();
  conn_->RoundTrip(statements, deadline,
                   [self = shared_from_this()](Status st, std::vector<StatementResult> results) {
                     self->Answered(std::move(st), std::move(results));
                   });
}

void SourceLoop::Answered(Status st, std::vector<StatementResult> results) {
  if (!st.ok()) {
    // The connection is closed: SETs of this session are gone with it.
    session_timeout_ms_ = -1;
    return Failed(st);
  }
  if (!results.empty() && results[0].result && net::Pq().PQntuples(results[0].result.get()) == 1) {
    role_ = net::Pq().PQgetvalue(results[0].result.get(), 0, 0)[0] == 't' ? Role::kStandby
                                                                          : Role::kPrimary;
  }
  const int64_t end = Now();
  for (size_t i = 1; i < results.size() && i < sent_.size(); ++i) {
    const Sent& s = sent_[i];
    if (s.planned == nullptr) {
      if (!results[i].error.empty()) session_timeout_ms_ = -1;  // the SET did not hold
      continue;
    }
    const pgmetrics::Metric& m = *s.planned->metric;
    if (m.node_status != pgmetrics::NodeStatus::kAny &&
        (m.node_status == pgmetrics::NodeStatus::kPrimary) != (role_ == Role::kPrimary)) {
      // The role changed under it (or was not known yet): not this role's.
      if (s.claimed) server_->Release(m.name);
      continue;
    }
    next_due_[m.name] = end + s.planned->interval.count();
    if (!results[i].error.empty() || !results[i].result) {
      if (s.claimed) server_->Release(m.name);
      ctx_.metric_errors->With({ctx_.receiver, m.name}).Inc();
      logging::Warn("postgresql", "metric failed",
                    {{"source", plan_.source.name},
                     {"metric", m.name},
                     {"error", results[i].error.empty() ? "no result" : results[i].error}});
      continue;
    }
    auto rows = std::make_shared<const Rows>(ToRows(results[i].result.get()));
    if (s.claimed) server_->Put(m.name, role_, rows, end);
    Emit(m, *rows);
  }
  EndTick(true);
}

void SourceLoop::Failed(const Status& st) {
  ReleaseClaims();
  ctx_.connect_failures->Inc();
  ++failures_;
  next_connect_ = Now() + ReconnectDelay(failures_, ctx_.reconnect, rng_).count();
  if (up_) {
    logging::Warn("postgresql", "source down",
                  {{"source", plan_.source.name}, {"error", st.ToString()}});
  }
  conn_->Close();
  EndTick(false);
}

void SourceLoop::ReleaseClaims() {
  for (const Sent& s : sent_) {
    if (s.claimed && server_) server_->Release(s.planned->metric->name);
  }
}

void SourceLoop::Emit(const pgmetrics::Metric& metric, const Rows& rows) {
  std::vector<std::pair<std::string_view, std::string_view>> labels;
  std::vector<std::string> names;
  names.reserve(rows.value_columns.size());
  for (const std::string& c : rows.value_columns) {
    names.push_back(pgmetrics::SeriesName(ctx_.name_space, metric.name, c));
  }
  const size_t nv = rows.value_columns.size(), nl = rows.label_columns.size();
  for (size_t i = 0; i < rows.count; ++i) {
    labels.clear();
    labels.emplace_back("dbname", plan_.source.name);
    auto add = [&](std::string_view n, std::string_view v) {
      if (v.empty()) return;
      for (const auto& [have, unused] : labels) {
        if (have == n) return;  // the source's own win
      }
      labels.emplace_back(n, v);
    };
    for (const auto& [n, v] : plan_.source.custom_tags) add(n, v);
    for (size_t j = 0; j < nl; ++j) add(rows.label_columns[j], rows.labels[i * nl + j]);
    labels.emplace_back("__name__", "");
    const int64_t ts = rows.times_ms[i] != 0 ? rows.times_ms[i] : tick_unix_ms_;
    for (size_t j = 0; j < nv; ++j) {
      const double v = rows.values[i * nv + j];
      if (std::isnan(v)) continue;  // NULL
      labels.back().second = names[j];
      AppendSeries(labels, v, ts);
    }
    labels.pop_back();
  }
}

void SourceLoop::AppendSeries(std::vector<std::pair<std::string_view, std::string_view>>& labels,
                              double value, int64_t ts) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted(labels.begin(), labels.end());
  std::sort(sorted.begin(), sorted.end());
  label_scratch_.clear();
  wire::ProtoWriter w(&label_scratch_);
  for (const auto& [n, v] : sorted) wire::prom::AppendLabel(w, n, v);
  wire::prom::AppendSeries(&payload_, label_scratch_, value, ts);
  ++items_;
  min_ms_ = std::min(min_ms_, ts);
  max_ms_ = std::max(max_ms_, ts);
}

void SourceLoop::EndTick(bool up) {
  if (up && !up_) logging::Info("postgresql", "source up", {{"source", plan_.source.name}});
  up_ = up;
  std::vector<std::pair<std::string_view, std::string_view>> labels = {
      {"dbname", plan_.source.name}};
  for (const auto& [n, v] : plan_.source.custom_tags) {
    if (n != "dbname" && !v.empty()) labels.emplace_back(n, v);
  }
  labels.emplace_back("__name__", "pg_up");
  AppendSeries(labels, up ? 1.0 : 0.0, tick_unix_ms_);
  StorePulled(*ctx_.rt, ctx_.pipelines, *ctx_.counters, std::move(payload_), items_, min_ms_,
              max_ms_);
  payload_.clear();
  sent_.clear();
  scheduler::Done done = std::move(done_);
  done_ = nullptr;
  if (done) done();
}

}  // namespace sluice::receivers::postgresql
