#include "backfill/command.h"

#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <boost/asio/io_context.hpp>
#include <cctype>

#include "backfill/feed.h"
#include "backfill/log_source.h"
#include "backfill/otlp_json_source.h"
#include "backfill/prom_text_source.h"
#include "backfill/remote_read_source.h"
#include "base/units.h"
#include "config/schema.h"
#include "pipeline/limiter.h"
#include "pipeline/service_config.h"
#include "telemetry/health.h"

namespace sluice::backfill {
namespace {

constexpr int kFailure = static_cast<int>(Outcome::kFailure);

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

enum class SourceKind { kOtlpJson, kOpenMetrics, kPrometheusText, kRemoteRead, kLog };

struct From {
  SourceKind kind;
  std::string where;  // path or URL
};

Result<From> ParseFrom(const std::string& from) {
  struct Prefix {
    std::string_view prefix;
    SourceKind kind;
  };
  static constexpr Prefix kPrefixes[] = {
      {"otlp-json:", SourceKind::kOtlpJson},
      {"openmetrics:", SourceKind::kOpenMetrics},
      {"prometheus-text:", SourceKind::kPrometheusText},
      {"remote-read:", SourceKind::kRemoteRead},
  };
  if (from == "log") return From{SourceKind::kLog, ""};
  for (const Prefix& p : kPrefixes) {
    if (std::string_view(from).starts_with(p.prefix)) {
      std::string rest = from.substr(p.prefix.size());
      if (rest.empty())
        return Status::InvalidArgument("--from " + from + ": nothing after the kind");
      return From{p.kind, rest};
    }
  }
  const std::string lower = Lower(from);
  for (std::string_view ext : {".json", ".jsonl", ".json.zst", ".jsonl.zst", ".zst"}) {
    if (lower.ends_with(ext)) return From{SourceKind::kOtlpJson, from};
  }
  for (std::string_view ext : {".om", ".openmetrics"}) {
    if (lower.ends_with(ext)) return From{SourceKind::kOpenMetrics, from};
  }
  for (std::string_view ext : {".prom", ".txt"}) {
    if (lower.ends_with(ext)) return From{SourceKind::kPrometheusText, from};
  }
  return Status::InvalidArgument(
      "--from " + from +
      ": say what it is: otlp-json:FILE, openmetrics:FILE, prometheus-text:FILE, "
      "remote-read:URL or log");
}

bool OnTerminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

std::string Hex16(std::string_view s) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(s.data(), s.size())));
  return buf;
}

std::string FileSafe(std::string_view id) {
  std::string out(id);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  }
  return out;
}

}  // namespace

Result<int64_t> ParseTimeMs(std::string_view text, int64_t now_ms) {
  if (text == "now") return now_ms;
  if (!text.empty() && text[0] == '-') {
    SLUICE_ASSIGN_OR_RETURN(std::chrono::nanoseconds ago, ParseDuration(text.substr(1)));
    return now_ms - ago.count() / 1'000'000;
  }
  const std::string s(text);
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
      })) {
    char* end = nullptr;
    const double secs = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size()) return Status::InvalidArgument("not a time: " + s);
    return static_cast<int64_t>(secs * 1000 + 0.5);
  }
  int64_t nanos = 0;
  if (!ParseRfc3339(text, &nanos)) {
    return Status::InvalidArgument(
        "not a time: " + s +
        " (RFC 3339 with its zone, Unix seconds, now, or -<duration> for ago)");
  }
  return nanos / 1'000'000;
}

namespace {

// Whether `reason`, in any case, holds one of `needles`.
bool Says(std::string_view reason, std::initializer_list<std::string_view> needles) {
  const std::string r = Lower(reason);
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return r.find(n) != std::string::npos; });
}

}  // namespace

bool RefusesOldSamples(std::string_view reason) {
  return Says(reason, {"out of bounds", "too old", "out of order sample"});
}

bool RefusesOldLogs(std::string_view reason) {
  return Says(reason, {"too old", "too far behind", "out of order"});
}

std::string OldSamplesMessage(std::string_view exporter, std::string_view reason) {
  return "the destination of exporter \"" + std::string(exporter) +
         "\" refuses samples this old (it answered: " + std::string(reason) +
         "). Prometheus takes samples older than its newest data only within its out-of-order "
         "window: start it with storage.tsdb.out_of_order_time_window (in its configuration "
         "file's storage.tsdb section) wider than the history you send, or send to "
         "VictoriaMetrics, which takes samples of any age inside its retention period. Nothing "
         "was dead-lettered: run the same command again once the destination takes them, and it "
         "continues from the checkpoint.";
}

std::string OldLogsMessage(std::string_view exporter, std::string_view reason) {
  return "the destination of exporter \"" + std::string(exporter) +
         "\" refuses log records this old (it answered: " + std::string(reason) +
         "). Loki takes old records only when its limits_config allows them: "
         "reject_old_samples: false, or reject_old_samples_max_age wider than the history you "
         "send (and unordered_writes for records older than a stream's newest). Nothing was "
         "dead-lettered: run the same command again once the destination takes them, and it "
         "continues from the checkpoint.";
}

Job::~Job() {
  if (exporter) exporter->Stop(std::chrono::steady_clock::now());
}

void Job::Interrupt() {
  if (fed != nullptr) fed->Interrupt();
  if (source) source->Interrupt();
}

Summary Job::Run(const std::atomic<bool>& stop, std::ostream& progress, FeedStatus* status) {
  Summary summary =
      Feed(*source, processors, *fed, *checkpoint, args.restart, options, stop, progress, status);
  exporter->Stop(std::chrono::steady_clock::now());
  const std::string refused = fed->StopReason();
  if (!refused.empty()) {
    summary.reason = exporter_type == "loki" ? OldLogsMessage(args.exporter, refused)
                                             : OldSamplesMessage(args.exporter, refused);
  }
  if (summary.dead_lettered_items > 0 &&
      io::FileSystem::Posix().Exists(feed.dead_letter_directory)) {
    summary.reason += (summary.reason.empty() ? "" : "; ") + std::string("dead letters are in ") +
                      feed.dead_letter_directory;
  }
  return summary;
}

Result<std::unique_ptr<Job>> PrepareJob(const Args& args, const pipeline::ServiceConfig& cfg,
                                        pipeline::Runtime& rt,
                                        ProgressOptions::Mode progress_mode) {
  auto job = std::make_unique<Job>();
  job->args = args;
  job->command = args.from == "log" ? "replay" : "backfill";
  const std::string& command = job->command;
  if (args.exporter.empty()) return Status::InvalidArgument("--exporter is required");
  SLUICE_ASSIGN_OR_RETURN(From from, ParseFrom(args.from));
  const pipeline::ComponentConfig* exporter_cfg =
      cfg.Find(pipeline::Kind::kExporter, args.exporter);
  if (exporter_cfg == nullptr) {
    return Status::InvalidArgument("no exporter \"" + args.exporter + "\" in the configuration");
  }

  // The time range and selectors.
  const int64_t now_ms = rt.clock.NowUnixNanos() / 1'000'000;
  TimeRange range;
  if (!args.start.empty()) {
    Result<int64_t> t = ParseTimeMs(args.start, now_ms);
    if (!t.ok()) return Status::InvalidArgument("--start: " + t.status().message());
    range.start_ms = *t;
  }
  if (!args.end.empty()) {
    Result<int64_t> t = ParseTimeMs(args.end, now_ms);
    if (!t.ok()) return Status::InvalidArgument("--end: " + t.status().message());
    range.end_ms = *t;
  }
  if (range.end_ms < range.start_ms) return Status::InvalidArgument("--end is before --start");
  std::vector<relabel::Selector> selectors;
  for (const std::string& m : args.match) {
    Result<relabel::Selector> sel = relabel::Selector::Parse(m);
    if (!sel.ok()) return Status::InvalidArgument("--match " + m + ": " + sel.status().message());
    selectors.push_back(std::move(*sel));
  }
  if (!selectors.empty() && (from.kind == SourceKind::kOtlpJson || from.kind == SourceKind::kLog)) {
    return Status::InvalidArgument(
        "--match selects Prometheus series; for OTLP data and the log, name a filter processor "
        "with --processors");
  }
  FeedOptions& feed_options = job->options;
  feed_options.command = command;
  if (!args.rate.empty()) {
    const bool bytes = std::any_of(args.rate.begin(), args.rate.end(), [](char c) {
      return std::isalpha(static_cast<unsigned char>(c));
    });
    const Status bad =
        Status::InvalidArgument("--rate " + args.rate + ": not a rate (50000, 8MiB)");
    if (bytes) {
      Result<uint64_t> b = ParseByteSize(args.rate);
      if (!b.ok() || *b == 0) return bad;
      feed_options.rate = static_cast<double>(*b);
      feed_options.rate_bytes = true;
    } else {
      char* end = nullptr;
      feed_options.rate = std::strtod(args.rate.c_str(), &end);
      if (feed_options.rate <= 0 || *end != '\0') return bad;
    }
  }
  Result<std::chrono::nanoseconds> interval = ParseDuration(args.progress_interval);
  if (!interval.ok()) {
    return Status::InvalidArgument("--progress-interval: " + interval.status().message());
  }
  feed_options.progress.interval = std::chrono::duration_cast<std::chrono::milliseconds>(*interval);
  Result<std::chrono::nanoseconds> every = ParseDuration(args.checkpoint_interval);
  if (!every.ok() || every->count() <= 0) {
    return Status::InvalidArgument("--checkpoint-interval " + args.checkpoint_interval +
                                   ": not a duration");
  }
  feed_options.checkpoint_interval = std::chrono::duration_cast<std::chrono::milliseconds>(*every);
  feed_options.progress.mode = args.quiet ? ProgressOptions::Mode::kQuiet : progress_mode;

  io::FileSystem& fs = io::FileSystem::Posix();
  std::vector<pipeline::PipelineRef> pipelines =
      cfg.PipelinesOf(pipeline::Kind::kExporter, args.exporter);
  if (from.kind == SourceKind::kLog) {
    if (pipelines.empty()) {
      return Status::InvalidArgument("exporter \"" + args.exporter + "\" is in no pipeline");
    }
    if (rt.log == nullptr) return Status::FailedPrecondition("the log is not open");
  }
  for (const std::string& id : args.processors) {
    const pipeline::ComponentConfig* p = cfg.Find(pipeline::Kind::kProcessor, id);
    if (p == nullptr) return Status::InvalidArgument("--processors: no processor \"" + id + "\"");
    Result<std::shared_ptr<const pipeline::Processor>> made =
        p->type->create_processor(pipeline::ComponentSettings{id, pipelines}, p->options.get(), rt);
    if (!made.ok())
      return Status::InvalidArgument("processor " + id + ": " + made.status().message());
    job->processors.push_back(std::move(*made));
  }

  // Where the checkpoint and the dead letters go.
  std::string identity = command + " from=" + args.from + " exporter=" + args.exporter +
                         " start=" + args.start + " end=" + args.end;
  for (const auto& m : args.match) identity += " match=" + m;
  for (const auto& p : args.processors) identity += " processor=" + p;
  const std::string state_dir = io::JoinPath(io::JoinPath(cfg.storage.directory, command),
                                             FileSafe(args.exporter) + "-" + Hex16(identity));
  job->checkpoint = std::make_unique<Checkpoint>(
      fs, args.checkpoint.empty() ? io::JoinPath(state_dir, "checkpoint") : args.checkpoint,
      identity);

  job->feed.fs = &fs;
  job->feed.dead_letter_directory = io::JoinPath(state_dir, "dead_letter");
  // A refusal of old data stops the run, where the destination says so
  // in words this recognizes; elsewhere it is a dead letter like any other.
  job->exporter_type = exporter_cfg->type->type;
  if (job->exporter_type == "prometheusremotewrite") {
    job->feed.stop_on = [](const pipeline::SendResult& r) { return RefusesOldSamples(r.reason); };
  } else if (job->exporter_type == "loki") {
    job->feed.stop_on = [](const pipeline::SendResult& r) { return RefusesOldLogs(r.reason); };
  }
  // A replay runs beside the live exporter of the same id, in the same
  // registry: its metrics carry an id of their own.
  pipeline::ComponentSettings settings{
      command == "replay" ? "replay:" + args.exporter : args.exporter, pipelines};
  settings.feed = &job->feed;
  if (!exporter_cfg->type->create_exporter || !exporter_cfg->type->fed) {
    return Status::InvalidArgument(
        "exporter \"" + args.exporter + "\" (" + exporter_cfg->type->type +
        ") cannot send history; the exporters that can: prometheusremotewrite, otlp, otlphttp, "
        "loki, postgresql");
  }
  Result<std::unique_ptr<pipeline::Exporter>> made =
      exporter_cfg->type->create_exporter(settings, exporter_cfg->options.get(), rt);
  if (!made.ok()) {
    return Status(made.status().code(),
                  "exporter " + args.exporter + ": " + made.status().message());
  }
  job->exporter = std::move(*made);
  job->fed = dynamic_cast<pipeline::FedExporter*>(job->exporter.get());
  if (job->fed == nullptr) {
    return Status::Internal("exporter type " + exporter_cfg->type->type +
                            " is marked fed but made no FedExporter");
  }

  // The source.
  switch (from.kind) {
    case SourceKind::kOtlpJson: {
      OtlpJsonSource::Options o;
      o.path = from.where;
      o.range = range;
      SLUICE_ASSIGN_OR_RETURN(job->source, OtlpJsonSource::Open(fs, o));
      break;
    }
    case SourceKind::kOpenMetrics:
    case SourceKind::kPrometheusText: {
      PromTextSource::Options o;
      o.path = from.where;
      o.format = from.kind == SourceKind::kOpenMetrics ? wire::prom::ExpositionFormat::kOpenMetrics
                                                       : wire::prom::ExpositionFormat::kText004;
      o.range = range;
      o.match = selectors;
      SLUICE_ASSIGN_OR_RETURN(job->source, PromTextSource::Open(fs, o));
      break;
    }
    case SourceKind::kRemoteRead: {
      if (args.start.empty()) {
        return Status::InvalidArgument("--start is required to read from a remote read URL");
      }
      if (args.end.empty()) range.end_ms = now_ms;
      RemoteReadSource::Options o;
      o.url = from.where;
      o.range = range;
      o.match = selectors;
      Result<std::chrono::nanoseconds> slice = ParseDuration(args.slice);
      if (!slice.ok() || slice->count() < 1'000'000) {
        return Status::InvalidArgument("--slice " + args.slice + ": not a duration of 1ms or more");
      }
      o.slice_ms = slice->count() / 1'000'000;
      SLUICE_ASSIGN_OR_RETURN(job->source, RemoteReadSource::Open(o));
      break;
    }
    case SourceKind::kLog: {
      log::PipelineSet set;
      for (const auto& p : pipelines) set.Add(p.id);
      job->source = std::make_unique<LogSource>(*rt.log, set, range, cfg.storage.segment_bytes);
      break;
    }
  }
  Status started = job->exporter->Start();
  if (!started.ok()) {
    return Status(started.code(), "exporter " + args.exporter + ": " + started.message());
  }
  return job;
}

int RunBackfill(const Args& args, const pipeline::Catalog& catalog, std::ostream& out,
                std::ostream& err, const std::atomic<bool>& stop, const JobHook& hook) {
  const std::string command = args.from == "log" ? "replay" : "backfill";
  auto fail = [&](const std::string& why) {
    err << command << ": " << why << "\n";
    out << FailureLine(command, why) << "\n";
    return kFailure;
  };
  // The configuration, with --concurrency as the exporter's senders.
  config::Context ctx(args.config);
  std::optional<YAML::Node> root = config::LoadFile(args.config, ctx);
  if (!root) {
    for (const auto& e : ctx.errors()) err << e.ToString() << "\n";
    return fail("the configuration does not load");
  }
  if (!(*root)["exporters"] || !(*root)["exporters"][args.exporter]) {
    return fail("no exporter \"" + args.exporter + "\" in " + args.config);
  }
  if (args.concurrency > 0) {
    YAML::Node e = (*root)["exporters"][args.exporter];
    if (!e.IsMap()) e = YAML::Node(YAML::NodeType::Map);
    int64_t queue = 0;
    if (e["sending_queue"] && e["sending_queue"]["queue_size"]) {
      queue = e["sending_queue"]["queue_size"].as<int64_t>(0);
    }
    e["sending_queue"]["num_consumers"] = args.concurrency;
    e["sending_queue"]["queue_size"] = std::max<int64_t>(queue, 2 * args.concurrency);
    (*root)["exporters"][args.exporter] = e;
  }
  std::optional<pipeline::ServiceConfig> cfg = pipeline::ParseServiceConfig(*root, ctx, catalog);
  for (const auto& e : ctx.errors()) err << e.ToString() << "\n";
  if (!cfg) return fail("the configuration has errors (above)");

  // The runtime: processors and the fed exporter need its metrics and
  // clock; only a replay opens the log.
  telemetry::Registry registry;
  telemetry::Health health;
  boost::asio::io_context io;
  pipeline::InFlightLimiter limiter(cfg->service.max_in_flight_bytes, registry);
  std::unique_ptr<log::Log> log;
  if (args.from == "log") {
    Result<std::unique_ptr<log::Log>> opened =
        log::Log::Open(cfg->storage, io::FileSystem::Posix(), Clock::Real(), registry);
    if (!opened.ok()) return fail("cannot open the log: " + opened.status().ToString());
    log = std::move(*opened);
  }
  pipeline::Runtime rt{io, log.get(), registry, health, Clock::Real(), limiter};
  Result<std::unique_ptr<Job>> job = PrepareJob(
      args, *cfg, rt, OnTerminal() ? ProgressOptions::Mode::kBar : ProgressOptions::Mode::kLines);
  if (!job.ok()) return fail(job.status().message());
  if (hook) hook(job->get());
  Summary summary = (*job)->Run(stop, err);
  if (hook) hook(nullptr);
  job->reset();
  if (summary.outcome != Outcome::kSuccess) err << command << ": " << summary.reason << "\n";
  out << FormatSummary(command, summary) << "\n";
  if (log) log->Close().IgnoreError();
  return static_cast<int>(summary.outcome);
}

}  // namespace sluice::backfill
