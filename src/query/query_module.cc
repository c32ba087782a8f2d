#include "query/query_module.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "base/strings.h"
#include "base/thread.h"
#include "net/http_fields.h"
#include "query/jaeger.h"
#include "query/logs.h"
#include "query/loki.h"
#include "query/search.h"
#include "query/services.h"
#include "query/traces.h"
#include "ui/ui.h"
#include "wire/otlp/json.h"

namespace sluice::query {
namespace {

net::HttpResponse JsonError(int status, std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(body, message);
  body += "}";
  return net::HttpResponse::Json(status, std::move(body));
}

constexpr std::string_view kPrefix = "/api/";
constexpr std::string_view kLokiPrefix = "/loki/";
constexpr std::string_view kTraces = "/api/v1/traces/";
constexpr std::string_view kSearch = "/api/v1/traces";
constexpr std::string_view kPipeline = "/api/v1/pipeline";
constexpr std::string_view kServices = "/api/v1/services";
constexpr std::string_view kGraph = "/api/v1/graph";
constexpr std::string_view kLogs = "/api/v1/logs";
constexpr std::string_view kTail = "/api/v1/logs/tail";
// How often the query thread wakes between queries (health samples, tail
// keep-alives).
constexpr std::chrono::seconds kTick{5};

}  // namespace

const config::Schema<QueryOptions>& QueryOptionsSchema() {
  static const config::Schema<QueryOptions> schema = [] {
    static const config::Schema<QueryOptions::RollupOptions> rollups = [] {
      config::Schema<QueryOptions::RollupOptions> r("query.rollups");
      r.Bytes("max_memory", &QueryOptions::RollupOptions::max_memory,
              "Most memory the rollups (per service, operation and edge: calls, errors, latency) "
              "hold; past it the oldest minutes go first.",
              {1 << 20, 1e12L})
          .Duration("retention", &QueryOptions::RollupOptions::retention,
                    "How long the per-minute rollups are kept (10 s rollups: the last hour).",
                    {3600e9L, 400 * 86400e9L});
      return r;
    }();
    config::Schema<QueryOptions> s("query");
    s.Bool("enabled", &QueryOptions::enabled,
           "Index the log's traces and logs and answer the query API under /api/ on the admin "
           "port (docs/api.md). Off unless set (the embedded default sets it): the index reads "
           "the log a second time, which costs a one-core relay at full load 15-45% of its "
           "ingest.")
        .Int("max_queued_queries", &QueryOptions::max_queued_queries,
             "Queries that may wait for the query thread; past it, 503 with Retry-After.",
             {1, 100000})
        .Bytes("max_scan_bytes", &QueryOptions::max_scan_bytes,
               "Most log bytes one search reads; past it, the answer is flagged partial.",
               {1 << 20, 1e15})
        .Int("max_traces_per_search", &QueryOptions::max_traces_per_search,
             "Most traces one search holds in memory; past it, the answer is flagged partial.",
             {100, 10'000'000})
        .Int("max_tail_clients", &QueryOptions::max_tail_clients,
             "Live tails (GET /api/v1/logs/tail) open at once; past it, 503 with Retry-After.",
             {1, 10000})
        .Object("rollups", &QueryOptions::rollups, rollups,
                "The rollups behind the services and graph routes (docs/api.md).")
        .String("tenant_header", &QueryOptions::tenant_header,
                "Request header naming the tenant whose data a query sees.")
        .String("default_tenant", &QueryOptions::default_tenant,
                "The tenant of data stored without one, and of queries that name none.");
    return s;
  }();
  return schema;
}

pipeline::ModuleType QueryModuleType() {
  return pipeline::MakeModuleType(
      "query",
      "The embedded query layer: an index of every traces and logs pipeline in the log, and the "
      "HTTP JSON API on the admin port.",
      QueryOptionsSchema(),
      [](const pipeline::ModuleSettings& s, const QueryOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Module>> {
        if (!o.enabled) return std::unique_ptr<pipeline::Module>();
        return std::unique_ptr<pipeline::Module>(std::make_unique<QueryModule>(s, o, rt));
      });
}

QueryModule::QueryModule(const pipeline::ModuleSettings& settings, const QueryOptions& options,
                         pipeline::Runtime& rt)
    : options_(options),
      tenant_header_([&] {
        std::string h = options.tenant_header;
        for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return h;
      }()),
      rt_(rt),
      tail_(rt.metrics, static_cast<size_t>(options.max_tail_clients)),
      indexer_(rt, settings.pipelines),
      rollups_(rt, settings.derived,
               Rollups::Options{.coarse_span_nanos = options.rollups.retention.count(),
                                .max_bytes = options.rollups.max_memory}),
      health_(rt.metrics),
      queries_(rt.metrics.AddCounter("sluice_query_requests_total", "Query API requests answered.")
                   .Get()),
      refused_(rt.metrics
                   .AddCounter("sluice_query_refused_total",
                               "Query API requests refused with 503: the query queue was full.")
                   .Get()) {
  indexer_.SetObserver([this](const log::LogReader::Batch& batch) { tail_.Offer(batch); });
}

QueryModule::~QueryModule() {
  Stop(std::chrono::steady_clock::now());
}

Status QueryModule::Start() {
  SLUICE_RETURN_IF_ERROR(indexer_.Start());
  SLUICE_RETURN_IF_ERROR(rollups_.Start());
  worker_ = std::thread([this] {
    SetThreadName("query");
    Work();
  });
  return Status::Ok();
}

void QueryModule::Stop(pipeline::Deadline deadline) {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.NotifyAll();
  if (worker_.joinable()) worker_.join();
  tail_.CloseAll();
  rollups_.Stop(deadline);
  indexer_.Stop(deadline);
}

void QueryModule::Work() {
  while (true) {
    std::function<void()> job;
    {
      health_.MaybeSample(rt_.clock.NowUnixNanos());
      tail_.KeepAlive(rt_.clock.NowUnixNanos());
      MutexLock lock(mu_);
      wake_.WaitFor(lock, std::min<std::chrono::nanoseconds>(health_.interval(), kTick),
                    [&]()
                        SLUICE_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        if (stopping_) return;
        continue;  // time for a health sample
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

bool QueryModule::Handle(net::HttpRequest& request, net::Responder& respond) {
  if (!request.path.starts_with(kPrefix) && !request.path.starts_with(kLokiPrefix)) {
    // The web UI's files; it declines the admin port's own routes.
    net::HttpResponse r;
    if (!ui::Serve(request, &r)) return false;
    respond(std::move(r));
    return true;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    net::HttpResponse r = JsonError(405, "method not allowed");
    r.headers.emplace_back("Allow", "GET, HEAD");
    respond(std::move(r));
    return true;
  }
  if (request.path == kTail) {
    respond(OpenTail(request));
    return true;
  }
  bool queued = false;
  {
    MutexLock lock(mu_);
    if (!stopping_ && static_cast<int64_t>(queue_.size()) < options_.max_queued_queries) {
      queue_.push_back([this, request = std::move(request), respond = std::move(respond)] {
        respond(Answer(request));
      });
      queued = true;
    }
  }
  if (!queued) {
    refused_.Inc();
    net::HttpResponse r = JsonError(503, "too many queries waiting; retry shortly");
    r.headers.emplace_back("Retry-After", "1");
    respond(std::move(r));
    return true;
  }
  wake_.NotifyOne();
  return true;
}

TenantScope QueryModule::ScopeOf(const net::HttpRequest& request) const {
  const std::string_view named =
      tenant_header_.empty() ? std::string_view() : request.Header(tenant_header_);
  return TenantScope{named.empty() ? options_.default_tenant : std::string(named),
                     options_.default_tenant};
}

net::HttpResponse QueryModule::OpenTail(const net::HttpRequest& request) {
  queries_.Inc();
  Result<LogQuery> q =
      ParseLogQuery(net::ParseQueryString(request.query), rt_.clock.NowUnixNanos(), true);
  if (!q.ok()) return JsonError(400, q.status().message());
  q->scope = ScopeOf(request);
  std::shared_ptr<net::ResponseStream> stream = tail_.Open(std::move(*q));
  if (!stream) {
    refused_.Inc();
    net::HttpResponse r = JsonError(503, "too many live tails open; retry shortly");
    r.headers.emplace_back("Retry-After", "5");
    return r;
  }
  net::HttpResponse r;
  r.status = 200;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.body = ": tailing\n\n";  // opens the client's EventSource at once
  r.stream = std::move(stream);
  return r;
}

net::HttpResponse QueryModule::Answer(const net::HttpRequest& request) {
  queries_.Inc();
  const std::string_view path = request.path;
  QueryContext ctx{*rt_.log, indexer_,         rollups_,
                   options_, ScopeOf(request), rt_.clock.NowUnixNanos()};
  if (std::optional<net::HttpResponse> r = AnswerJaeger(request, ctx)) return std::move(*r);
  if (std::optional<net::HttpResponse> r = AnswerLoki(request, ctx)) return std::move(*r);
  if (path.starts_with(kTraces)) {
    std::string id;
    const std::string_view hex = path.substr(kTraces.size());
    if (hex.size() != 32 || !HexDecode(hex, &id)) {
      return JsonError(400, "a trace id is 32 hex digits");
    }
    Result<std::string> trace = FindTrace(*rt_.log, indexer_, id, ctx.scope);
    if (!trace.ok()) {
      return JsonError(trace.status().code() == StatusCode::kNotFound ? 404 : 500,
                       trace.status().message());
    }
    std::string json;
    Status st = wire::otlp::AppendTracesRequestJson(*trace, &json);
    if (!st.ok()) return JsonError(500, st.message());
    return net::HttpResponse::Json(200, std::move(json));
  }
  if (path == kSearch) {
    Result<TraceQuery> q =
        ParseTraceQuery(net::ParseQueryString(request.query), rt_.clock.NowUnixNanos());
    if (!q.ok()) return JsonError(400, q.status().message());
    q->scope = ctx.scope;
    Result<SearchResult> found =
        SearchTraces(*rt_.log, indexer_, *q, static_cast<uint64_t>(options_.max_scan_bytes),
                     static_cast<size_t>(options_.max_traces_per_search));
    if (!found.ok()) return JsonError(500, found.status().message());
    return net::HttpResponse::Json(200, RenderSearch(*found));
  }
  if (path == kServices || path.starts_with(std::string(kServices) + "/") || path == kGraph) {
    Result<WindowQuery> q =
        ParseWindowQuery(net::ParseQueryString(request.query), rt_.clock.NowUnixNanos());
    if (!q.ok()) return JsonError(400, q.status().message());
    q->scope = ctx.scope;
    Result<std::string> body = std::string();
    rollups_.Read([&](const Rollups& r) {
      if (path == kGraph) {
        body = RenderGraph(r, *q);
      } else if (path == kServices) {
        body = RenderServices(r, *q);
      } else {
        body = RenderService(r, net::PercentDecode(path.substr(kServices.size() + 1), false), *q);
      }
    });
    if (!body.ok()) return JsonError(404, body.status().message());
    return net::HttpResponse::Json(200, std::move(*body));
  }
  if (path == kLogs) {
    Result<LogQuery> q =
        ParseLogQuery(net::ParseQueryString(request.query), rt_.clock.NowUnixNanos(), false);
    if (!q.ok()) return JsonError(400, q.status().message());
    q->scope = ctx.scope;
    Result<LogSearchResult> found =
        SearchLogs(*rt_.log, indexer_, *q, static_cast<uint64_t>(options_.max_scan_bytes));
    if (!found.ok()) return JsonError(500, found.status().message());
    return net::HttpResponse::Json(200, RenderLogs(*found));
  }
  if (path == kPipeline)
    return net::HttpResponse::Json(200, health_.Render(rt_.clock.NowUnixNanos()));
  return JsonError(404,
                   "no such query: " + std::string(path) +
                       " (routes: /api/v1/services, /api/v1/services/{service}, /api/v1/graph, "
                       "/api/v1/traces, /api/v1/traces/{id}, /api/v1/logs, "
                       "/api/v1/logs/tail, /api/v1/pipeline)");
}

}  // namespace sluice::query
