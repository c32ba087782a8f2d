#include "backfill/replay.h"

#include <unistd.h>

#include <thread>

#include "base/strings.h"
#include "base/units.h"
#include "net/http_client.h"
#include "net/http_fields.h"
#include "pipeline/service_config.h"

namespace sluice::backfill {
namespace {

constexpr std::string_view kStart = "/api/v1/replay/start";
constexpr std::string_view kStatus = "/api/v1/replay/status";
constexpr std::string_view kCancel = "/api/v1/replay/cancel";

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) v |= uint8_t(in[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  AppendJsonEscaped(out, s);
  return out + "\"";
}

// A number field of the flat JSON objects the status route answers.
uint64_t JsonNumber(std::string_view json, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":";
  const size_t at = json.find(needle);
  if (at == std::string_view::npos) return 0;
  return std::strtoull(std::string(json.substr(at + needle.size(), 24)).c_str(), nullptr, 10);
}

// A string field of the same (its escapes \" and \\ undone).
std::string JsonText(std::string_view json, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":\"";
  size_t at = json.find(needle);
  if (at == std::string_view::npos) return "";
  std::string out;
  for (at += needle.size(); at < json.size() && json[at] != '"'; ++at) {
    if (json[at] == '\\' && at + 1 < json.size()) ++at;
    out += json[at];
  }
  return out;
}

std::string QueryOf(const Args& args) {
  std::string q =
      "?exporter=" + net::PercentEncode(args.exporter) + "&start=" + net::PercentEncode(args.start);
  if (!args.end.empty()) q += "&end=" + net::PercentEncode(args.end);
  if (args.restart) q += "&restart=true";
  if (!args.rate.empty()) q += "&rate=" + net::PercentEncode(args.rate);
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
      r->job->fed->Interrupt();
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
    return net::HttpResponse::Json(status, "{\"error\":" + JsonString(why) + "}");
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
      it->second->job->fed->Interrupt();
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
    json += ",\"retried_items\":" + std::to_string(s.retried_items);
    json += ",\"failed_items\":" + std::to_string(s.failed_items);
    json += ",\"bytes_read\":" + std::to_string(s.bytes_read);
    json += ",\"total_bytes\":" + std::to_string(s.total_bytes);
    if (finished) {
      json += ",\"exit_code\":" + std::to_string(r.exit_code);
      json += ",\"summary\":" + JsonString(r.summary);
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
              std::ostream& err, const std::atomic<bool>& stop, const ExporterHook& hook) {
  Args offline = args;
  offline.from = "log";
  if (args.offline) return RunBackfill(offline, catalog, out, err, stop, hook);

  config::Context ctx(args.config);
  std::optional<pipeline::ServiceConfig> cfg =
      pipeline::LoadServiceConfig(args.config, ctx, catalog);
  for (const auto& e : ctx.errors()) err << e.ToString() << "\n";
  if (!cfg) return static_cast<int>(Outcome::kFailure);
  const std::string admin =
      args.admin.empty() ? cfg->service.telemetry.metrics.address : args.admin;
  net::Headers headers;
  const auto& auth = cfg->service.telemetry.metrics.auth;
  if (auth.bearer_token) {
    headers.emplace_back("Authorization", "Bearer " + *auth.bearer_token);
  } else if (auth.basic) {
    headers.emplace_back("Authorization",
                         "Basic " + Base64(auth.basic->username + ":" + auth.basic->password));
  }
  std::string path;
  Result<std::unique_ptr<net::HttpClient>> client =
      net::HttpClient::ForUrl("http://" + admin, std::chrono::seconds(10), headers, &path);
  if (!client.ok()) {
    err << "replay: admin address " << admin << ": " << client.status().message() << "\n";
    return static_cast<int>(Outcome::kFailure);
  }
  Result<net::HttpReply> started = (*client)->Post(std::string(kStart) + QueryOf(args), "", {});
  if (!started.ok()) {
    err << "replay: no sluice answers at " << admin << " (" << started.status().message()
        << "); reading the log directly\n";
    return RunBackfill(offline, catalog, out, err, stop, hook);
  }
  if (started->status != 202) {
    const std::string why = JsonText(started->body, "error");
    err << "replay: " << admin << " answered " << started->status << ": "
        << (why.empty() ? started->body : why) << "\n";
    return static_cast<int>(Outcome::kFailure);
  }
  err << "replay: running in the sluice at " << admin << "\n";
  const std::string status_route =
      std::string(kStatus) + "?exporter=" + net::PercentEncode(args.exporter);
  std::mutex mu;
  std::string last;  // the last status answer
  auto snapshot = [&] {
    std::lock_guard<std::mutex> lock(mu);
    Snapshot s;
    s.items = JsonNumber(last, "items");
    s.retried_items = JsonNumber(last, "retried_items");
    s.failed_items = JsonNumber(last, "failed_items");
    s.bytes_read = JsonNumber(last, "bytes_read");
    s.total_bytes = JsonNumber(last, "total_bytes");
    return s;
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
        err << "replay: lost the sluice at " << admin << "\n";
        return static_cast<int>(Outcome::kFailure);
      }
    } else {
      failures = 0;
      {
        std::lock_guard<std::mutex> lock(mu);
        last = reply->body;
      }
      if (JsonText(reply->body, "state") == "finished") {
        printer.Stop();
        const std::string summary = JsonText(reply->body, "summary");
        const int code = static_cast<int>(JsonNumber(reply->body, "exit_code"));
        out << summary << "\n";
        return code;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace sluice::backfill
