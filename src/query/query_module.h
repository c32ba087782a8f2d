#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "config/schema.h"
#include "pipeline/component.h"
#include "query/context.h"
#include "query/health.h"
#include "query/indexer.h"
#include "query/rollups.h"
#include "query/tail.h"

namespace sluice::query {

const config::Schema<QueryOptions>& QueryOptionsSchema();
// The top-level `query:` section and its module.
pipeline::ModuleType QueryModuleType();

// The query layer on the admin port: its index (Indexer), the pipeline's
// health history (HealthHistory) and the HTTP JSON API under /api/
// (docs/api.md). Queries run one at a time on a thread of their own, never
// on the I/O threads that also serve ingest; past `max_queued_queries`
// waiting, a query is answered 503 with Retry-After. Between queries that
// thread samples the health history.
class QueryModule final : public pipeline::Module {
 public:
  QueryModule(const pipeline::ModuleSettings& settings, const QueryOptions& options,
              pipeline::Runtime& rt);
  ~QueryModule() override;

  std::vector<std::string> Cursors() const override {
    return {Indexer::kCursor, RollupReader::kCursor};
  }
  Status Start() override;
  void Stop(pipeline::Deadline deadline) override;
  bool Handle(net::HttpRequest& request, net::Responder& respond) override;
  std::vector<std::pair<std::string, std::string>> AdminPages() const override {
    return {{"ui", "/"}, {"api", "/api/v1/"}};
  }

  const Indexer& indexer() const { return indexer_; }

 private:
  // Runs on the query thread.
  net::HttpResponse Answer(const net::HttpRequest& request);
  // Whose data the request may see (its tenant header, else the default).
  TenantScope ScopeOf(const net::HttpRequest& request) const;
  // GET /api/v1/logs/tail, answered at once on the I/O thread: a stream.
  net::HttpResponse OpenTail(const net::HttpRequest& request);
  void Work();

  const QueryOptions options_;
  const std::string tenant_header_;  // options_.tenant_header, lower-cased as requests hold it
  pipeline::Runtime& rt_;
  LogTail tail_;
  Indexer indexer_;
  RollupReader rollups_;
  HealthHistory health_;
  telemetry::Counter& queries_;
  telemetry::Counter& refused_;

  Mutex mu_;
  CondVar wake_;
  std::deque<std::function<void()>> queue_ SLUICE_GUARDED_BY(mu_);
  bool stopping_ SLUICE_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace sluice::query
