#include "backfill/replay.h"

#include <simdjson.h>
#include <unistd.h>

#include <thread>

#include "base/strings.h"
#include "base/units.h"
#include "net/http_client.h"
#include "net/http_fields.h"
#include "pipeline/service_config.h"
#include "wire/otlp/common.h"

namespace sluice::backfill {
namespace {

constexpr std::string_view kStart = "/api/v1/replay/start";
constexpr std::string_view kStatus = "/api/v1/replay/status";
constexpr std::string_view kCancel = "/api/v1/replay/cancel";

// A status answer (or an error's), as the admin API writes it.
struct StatusAnswer {
  std::string state;  // "running", "finished"; "" when unreadable
  Snapshot snapshot;
  int exit_code = 0;
  std::string summary;
  std::string error;
};

StatusAnswer ParseStatus(std::string_view json) {
  StatusAnswer a;
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::object object;
  if (parser.parse(padded).get(object) != simdjson::SUCCESS) return a;
  auto text = [&](const char* key) {
    std::string_view v;
    return object[key].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : "";
  };
  auto number = [&](const char* key) {
    uint64_t v = 0;
    return object[key].get_uint64().get(v) == simdjson::SUCCESS ? v : 0;
  };
  a.state = text("state");
  a.snapshot.items = number("items");
  a.snapshot.bytes_sent = number("bytes_sent");
  a.snapshot.retried_items = number("retried_items");
  a.snapshot.failed_items = number("failed_items");
  a.snapshot.bytes_read = number("bytes_read");
  a.snapshot.total_bytes = number("total_bytes");
  a.exit_code = static_cast<int>(number("exit_code"));
  a.summary = text("summary");
  a.error = text("error");
  return a;
}

std::string QueryOf(const Args& args) {
  std::string q =
      "?exporter=" + net::PercentEncode(args.exporter) + "&start=" + net::PercentEncode(args.start);
  if (!args.end.empty()) q += "&end=" + net::PercentEncode(args.end);
  if (args.restart) q += "&restart=true";
  if (!args.rate.empty()) q += "&rate=" + net::PercentEncode(args.rate);
  for (const auto& p : args.processors) q += "&processor=" + net::PercentEncode(p);
  q += "&checkpoint_interval=" + net::PercentEncode(args.checkpoint_interval);
  return q;
}

class ReplayModule final : public pipeline::Module {
 public:
  ReplayModule(const pipeline::ServiceConfig& config, pipeline::Runtime& rt)
      : config_(config), rt_(rt) {}
  ~ReplayModule() override { Stop(std::chrono::steady_clock::now()); }

  std::vector<std::string> Cursors() const override { return {}; }
  Status Start() override { return Status::Ok(); }

  void Stop(pipeline::Deadline) override {
    std::map<std::string, std::unique_ptr<Running>> jobs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      jobs.swap(jobs_);
    }
    for (auto& [id, r] : jobs) {
      r->stop.store(true);
      r->job->Interrupt();
    }
    for (auto& [id, r] : jobs) {
      if (r->thread.joinable()) r->thread.join();
    }
  }

  bool Handle(net::HttpRequest& request, net::Responder& respond) override {
    if (request.path != kStart && request.path != kStatus && request.path != kCancel) return false;
    respond(Answer(request));
    return true;
  }

 private:
  struct Running {
    std::unique_ptr<Job> job;
    std::atomic<bool> stop{false};
    FeedStatus status;
    std::atomic<bool> finished{false};
    std::string summary;  // once finished
    int exit_code = 0;
    std::thread thread;
  };

  static net::HttpResponse Error(int status, const std::string& why) {
    std::string json = "{\"error\":";
    AppendJsonString(json, why);
    return net::HttpResponse::Json(status, json + "}");
  }

  net::HttpResponse Answer(const net::HttpRequest& request) {
    if (request.path == kStatus ? (request.method != "GET" && request.method != "POST")
                                : request.method != "POST") {
      net::HttpResponse r = Error(405, "method not allowed");
      r.headers.emplace_back("Allow", request.path == kStatus ? "GET, POST" : "POST");
      return r;
    }
    Args args;
    args.from = "log";
    args.quiet = true;
    for (const auto& [k, v] : net::ParseQueryString(request.query)) {
      if (k == "exporter") args.exporter = v;
      if (k == "start") args.start = v;
      if (k == "end") args.end = v;
      if (k == "rate") args.rate = v;
      if (k == "restart") args.restart = v == "true" || v == "1";
      if (k == "processor") args.processors.push_back(v);
      if (k == "checkpoint_interval") args.checkpoint_interval = v;
    }
    if (args.exporter.empty()) return Error(400, "exporter is required");
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Error(503, "stopping");
    auto it = jobs_.find(args.exporter);
    if (request.path == kStatus) {
      if (it == jobs_.end()) return Error(404, "no replay of exporter " + args.exporter);
      return net::HttpResponse::Json(200, StatusJson(*it->second));
    }
    if (request.path == kCancel) {
      if (it == jobs_.end()) return Error(404, "no replay of exporter " + args.exporter);
      it->second->stop.store(true);
      it->second->job->Interrupt();
      return net::HttpResponse::Json(202, "{\"state\":\"stopping\"}");
    }
    if (args.start.empty()) return Error(400, "start is required");
    if (it != jobs_.end()) {
      if (!it->second->finished.load()) {
        return Error(409, "a replay of exporter " + args.exporter + " is running");
      }
      if (it->second->thread.joinable()) it->second->thread.join();
      jobs_.erase(it);
    }
    Result<std::unique_ptr<Job>> job =
        PrepareJob(args, config_, rt_, ProgressOptions::Mode::kQuiet);
    if (!job.ok()) return Error(400, job.status().message());
    auto running = std::make_unique<Running>();
    running->job = std::move(*job);
    Running* r = running.get();
    r->thread = std::thread([this, r] {
      std::ostream none(nullptr);
      Summary s = r->job->Run(r->stop, none, &r->status);
      std::lock_guard<std::mutex> lock(mu_);
      r->summary = FormatSummary("replay", s);
      r->exit_code = static_cast<int>(s.outcome);
      r->finished.store(true);
    });
    jobs_[args.exporter] = std::move(running);
    return net::HttpResponse::Json(202, "{\"state\":\"running\"}");
  }

  // Under mu_.
  std::string StatusJson(const Running& r) const {
    const bool finished = r.finished.load();
    const Snapshot s = r.status.Take(*r.job->fed);
    std::string json = std::string("{\"state\":\"") + (finished ? "finished" : "running") + "\"";
    json += ",\"items\":" + std::to_string(s.items);
    json += ",\"bytes_sent\":" + std::to_string(s.bytes_sent);
    json += ",\"retried_items\":" + std::to_string(s.retried_items);
    json += ",\"failed_items\":" + std::to_string(s.failed_items);
    json += ",\"bytes_read\":" + std::to_string(s.bytes_read);
    json += ",\"total_bytes\":" + std::to_string(s.total_bytes);
    if (finished) {
      json += ",\"exit_code\":" + std::to_string(r.exit_code);
      json += ",\"summary\":";
      AppendJsonString(json, r.summary);
    }
    return json + "}";
  }

  const pipeline::ServiceConfig& config_;
  pipeline::Runtime& rt_;
  std::mutex mu_;
  bool stopping_ = false;
  std::map<std::string, std::unique_ptr<Running>> jobs_;
};

const config::Schema<ReplayOptions>& ReplaySchema() {
  static const config::Schema<ReplayOptions> schema = [] {
    config::Schema<ReplayOptions> s("replay");
    s.Bool("enabled", &ReplayOptions::enabled,
           "Serve /api/v1/replay/ on the admin port: `sluice replay` re-sends a time range of the "
           "log through one exporter while sluice runs.");
    return s;
  }();
  return schema;
}

}  // namespace

pipeline::ModuleType ReplayModuleType() {
  return pipeline::MakeModuleType<ReplayOptions>(
      "replay", "Replays of a time range of the log through one exporter (sluice replay).",
      ReplaySchema(),
      [](const pipeline::ModuleSettings& s, const ReplayOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Module>> {
        if (!o.enabled || s.config == nullptr) return std::unique_ptr<pipeline::Module>();
        return std::unique_ptr<pipeline::Module>(new ReplayModule(*s.config, rt));
      });
}

int RunReplay(const Args& args, const pipeline::Catalog& catalog, std::ostream& out,
              std::ostream& err, const std::atomic<bool>& stop, const JobHook& hook) {
  Args offline = args;
  offline.from = "log";
  if (args.offline) return RunBackfill(offline, catalog, out, err, stop, hook);

  auto fail = [&](const std::string& why) {
    err << "replay: " << why << "\n";
    out << FailureLine("replay", why) << "\n";
    return static_cast<int>(Outcome::kFailure);
  };
  config::Context ctx(args.config);
  std::optional<pipeline::ServiceConfig> cfg =
      pipeline::LoadServiceConfig(args.config, ctx, catalog);
  for (const auto& e : ctx.errors()) err << e.ToString() << "\n";
  if (!cfg) return fail("the configuration has errors (above)");
  const std::string admin =
      args.admin.empty() ? cfg->service.telemetry.metrics.address : args.admin;
  net::Headers headers;
  const auto& auth = cfg->service.telemetry.metrics.auth;
  if (auth.bearer_token) {
    headers.emplace_back("Authorization", "Bearer " + *auth.bearer_token);
  } else if (auth.basic) {
    std::string credentials = "Basic ";
    wire::otlp::AppendBase64(credentials, auth.basic->username + ":" + auth.basic->password);
    headers.emplace_back("Authorization", credentials);
  }
  std::string path;
  Result<std::unique_ptr<net::HttpClient>> client =
      net::HttpClient::ForUrl("http://" + admin, std::chrono::seconds(10), headers, &path);
  if (!client.ok()) return fail("admin address " + admin + ": " + client.status().message());
  Result<net::HttpReply> started = (*client)->Post(std::string(kStart) + QueryOf(args), "", {});
  if (!started.ok()) {
    err << "replay: no sluice answers at " << admin << " (" << started.status().message()
        << "); reading the log directly\n";
    return RunBackfill(offline, catalog, out, err, stop, hook);
  }
  if (started->status != 202) {
    const std::string why = ParseStatus(started->body).error;
    return fail(admin + " answered " + std::to_string(started->status) + ": " +
                (why.empty() ? started->body : why));
  }
  err << "replay: running in the sluice at " << admin << "\n";
  const std::string status_route =
      std::string(kStatus) + "?exporter=" + net::PercentEncode(args.exporter);
  std::mutex mu;
  Snapshot last;  // of the last status answer
  auto snapshot = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return last;
  };
  ProgressOptions progress;
  Result<std::chrono::nanoseconds> interval = ParseDuration(args.progress_interval);
  if (interval.ok()) {
    progress.interval = std::chrono::duration_cast<std::chrono::milliseconds>(*interval);
  }
  progress.mode = args.quiet    ? ProgressOptions::Mode::kQuiet
                  : ::isatty(2) ? ProgressOptions::Mode::kBar
                                : ProgressOptions::Mode::kLines;
  ProgressPrinter printer("replay", progress, snapshot, err);
  bool cancelled = false;
  int failures = 0;
  for (;;) {
    if (stop.load() && !cancelled) {
      cancelled = true;
      // Unanswered, the status polls below tell what became of the job.
      (void)(*client)->Post(std::string(kCancel) + "?exporter=" + net::PercentEncode(args.exporter),
                            "", {});
    }
    Result<net::HttpReply> reply = (*client)->Post(status_route, "", {});
    if (!reply.ok() || reply->status != 200) {
      if (++failures >= 10) {
        printer.Stop();
        return fail("lost the sluice at " + admin + " (the job may go on there)");
      }
    } else {
      failures = 0;
      const StatusAnswer answer = ParseStatus(reply->body);
      {
        std::lock_guard<std::mutex> lock(mu);
        last = answer.snapshot;
      }
      if (answer.state == "finished") {
        printer.Stop();
        out << answer.summary << "\n";
        return answer.exit_code;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace sluice::backfill
