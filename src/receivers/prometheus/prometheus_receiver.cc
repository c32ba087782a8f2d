#include "receivers/prometheus/prometheus_receiver.h"

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <map>
#include <memory>

#include "base/logging.h"
#include "base/mutex.h"
#include "io/file_system.h"
#include "net/endpoint.h"
#include "receivers/prometheus/fetch.h"
#include "receivers/prometheus/scrape.h"
#include "scheduler/scheduler.h"
#include "wire/prom/labels.h"

namespace sluice::receivers::prometheus {
namespace {

// How often file_sd files are checked for a change (their mtime and size).
constexpr auto kFileCheckEvery = std::chrono::seconds(5);

// The files a file_sd pattern names now (the last component may hold
// wildcards), sorted.
std::vector<std::string> Expand(const std::string& pattern) {
  const std::filesystem::path p(pattern);
  const std::string name = p.filename().string();
  if (name.find_first_of("*?[") == std::string::npos) return {pattern};
  std::vector<std::string> out;
  std::error_code ec;
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : ".";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (fnmatch(name.c_str(), e.path().filename().c_str(), 0) == 0)
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The deadline of one http_sd request.
std::chrono::nanoseconds HttpSdTimeout(const HttpSdConfig& sd) {
  return std::min<std::chrono::nanoseconds>(sd.refresh_interval, std::chrono::seconds(30));
}

// One scrape config's targets: the discovered groups by source, the
// targets made of them, and a scheduler task per target.
class Job {
 public:
  Job(std::shared_ptr<ScrapeJob> job, const PrometheusOptions::Shard& shard,
      scheduler::Scheduler& scheduler, std::shared_ptr<scheduler::InFlight> in_flight)
      : job_(std::move(job)),
        shard_(shard),
        scheduler_(scheduler),
        in_flight_(std::move(in_flight)) {}

  // Replaces the groups of one source and reconciles the targets: new ones
  // are scheduled, gone ones stop and their series go stale.
  void SetGroups(const std::string& source, std::vector<TargetGroup> groups) {
    MutexLock lock(mu_);
    groups_[source] = std::move(groups);
    Reconcile();
  }

  void StopAll() {
    MutexLock lock(mu_);
    for (auto& [key, t] : targets_) scheduler_.Remove(t.task);
    targets_.clear();
  }

  size_t targets() const {
    MutexLock lock(mu_);
    return targets_.size();
  }

 private:
  struct Scheduled {
    std::shared_ptr<ScrapeLoop> loop;
    scheduler::Scheduler::TaskId task;
  };

  void Reconcile() SLUICE_REQUIRES(mu_) {
    const ScrapeConfig& c = job_->config;
    std::map<std::string, Target> wanted;
    for (const auto& [source, groups] : groups_) {
      for (const TargetGroup& g : groups) {
        for (const std::string& address : g.targets) {
          Result<std::optional<Target>> t = MakeTarget(c, address, g.labels);
          if (!t.ok()) {
            logging::Warn("prometheus", "target left out",
                          {{"job", c.job_name}, {"error", t.status().ToString()}});
            continue;
          }
          if (!*t) continue;  // dropped by relabel_configs
          if (static_cast<int64_t>((*t)->hash % static_cast<uint64_t>(shard_.count)) !=
              shard_.index) {
            continue;  // another instance's
          }
          std::string key = (*t)->url();
          for (const auto& [n, v] : (*t)->labels) key += "\n" + n + "=" + v;
          wanted.emplace(std::move(key), std::move(**t));
        }
      }
    }
    job_->over_target_limit->store(c.target_limit > 0 &&
                                   static_cast<int64_t>(wanted.size()) > c.target_limit);
    for (auto it = targets_.begin(); it != targets_.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      scheduler_.Remove(it->second.task);
      auto loop = it->second.loop;
      // Its series go stale once its last scrape (if one is going) is over.
      boost::asio::post(job_->rt->io, [loop] { loop->MarkGone(); });
      it = targets_.erase(it);
    }
    for (auto& [key, target] : wanted) {
      if (targets_.contains(key)) continue;
      auto loop = std::make_shared<ScrapeLoop>(job_, target);
      scheduler::Task task;
      task.interval = target.interval;
      task.timeout = target.timeout;
      task.offset = scheduler::OffsetOf(target.hash, target.interval);
      task.run = [loop, in_flight = in_flight_](int64_t deadline, scheduler::Done done) {
        loop->Run(deadline, in_flight->Track(std::move(done)));
      };
      targets_.emplace(key, Scheduled{loop, scheduler_.Add(std::move(task))});
    }
  }

  const std::shared_ptr<ScrapeJob> job_;
  const PrometheusOptions::Shard shard_;
  scheduler::Scheduler& scheduler_;
  const std::shared_ptr<scheduler::InFlight> in_flight_;
  mutable Mutex mu_;
  std::map<std::string, std::vector<TargetGroup>> groups_ SLUICE_GUARDED_BY(mu_);
  std::map<std::string, Scheduled> targets_ SLUICE_GUARDED_BY(mu_);
};

class PrometheusReceiver final : public pipeline::Receiver {
 public:
  PrometheusReceiver(const pipeline::ComponentSettings& settings, const PrometheusOptions& options,
                     pipeline::Runtime& rt)
      : settings_(settings),
        options_(options),
        rt_(rt),
        counters_(rt.metrics, settings.id, "samples"),
        scrapes_(rt.metrics.AddCounter("sluice_receiver_scrapes_total",
                                       "Scrapes a prometheus receiver made, by job and result "
                                       "(ok, failed).",
                                       {"receiver", "job", "result"})),
        truncated_(rt.metrics
                       .AddCounter("sluice_receiver_scrape_truncated_samples_total",
                                   "Samples left out of scrapes past sample_limit "
                                   "(sample_limit_action: truncate).",
                                   {"receiver"})
                       .With({settings.id})),
        targets_(rt.metrics
                     .AddGauge("sluice_receiver_scrape_targets",
                               "Targets a prometheus receiver scrapes.", {"receiver"})
                     .With({settings.id})),
        in_flight_(std::make_shared<scheduler::InFlight>()) {}

  ~PrometheusReceiver() override { Shutdown(); }

  Status Start() override {
    scheduler_ = std::make_unique<scheduler::Scheduler>(rt_.io, rt_.clock);
    for (const ScrapeConfig& c : options_.scrape_configs) {
      auto job = std::make_shared<ScrapeJob>();
      job->config = c;
      job->external_labels = options_.global.external_labels;
      job->pipelines = settings_.pipelines;
      job->rt = &rt_;
      job->counters = &counters_;
      job->scrapes = &scrapes_;
      job->truncated = &truncated_;
      job->receiver = settings_.id;
      // Every job has one: relabelling may make any target https.
      Result<std::unique_ptr<boost::asio::ssl::context>> tls =
          net::MakeClientTlsContext(c.tls_config.value_or(net::TlsClientOptions{}));
      if (!tls.ok()) {
        return Status::InvalidArgument("job " + c.job_name + ": " + tls.status().message());
      }
      job->tls_context = std::move(*tls);
      auto j = std::make_unique<Job>(job, options_.shard, *scheduler_, in_flight_);
      for (size_t i = 0; i < c.static_configs.size(); ++i) {
        j->SetGroups("static_configs/" + std::to_string(i), {c.static_configs[i]});
      }
      jobs_.push_back(std::move(j));
    }
    // Discovery starts once every job is in jobs_, which its answers (on
    // the I/O threads) read.
    for (size_t n = 0; n < jobs_.size(); ++n) {
      const ScrapeConfig& c = options_.scrape_configs[n];
      for (size_t i = 0; i < c.file_sd_configs.size(); ++i) {
        WatchFiles(jobs_[n].get(), c.file_sd_configs[i], i);
      }
      for (size_t i = 0; i < c.http_sd_configs.size(); ++i) {
        SLUICE_RETURN_IF_ERROR(WatchUrl(jobs_[n].get(), c.http_sd_configs[i], i));
      }
    }
    PublishTargets();
    return Status::Ok();
  }
  std::vector<std::string> Addresses() const override { return {}; }
  void StopAccepting() override {
    if (scheduler_) scheduler_->Stop();
  }
  bool Drain(pipeline::Deadline deadline) override {
    return in_flight_->WaitIdle(deadline - std::chrono::steady_clock::now());
  }
  void Shutdown() override {
    if (scheduler_) scheduler_->Stop();
    for (auto& j : jobs_) j->StopAll();
    // Every fetch ends by its deadline: wait for those still going, which
    // touch this receiver's counters.
    std::chrono::nanoseconds longest{0};
    for (const ScrapeConfig& c : options_.scrape_configs) {
      longest = std::max(longest, c.scrape_timeout);
      for (const HttpSdConfig& sd : c.http_sd_configs) {
        longest = std::max(longest, HttpSdTimeout(sd));
      }
    }
    in_flight_->WaitIdle(longest + std::chrono::seconds(1));
  }

 private:
  // file_sd: the files are checked every few seconds and read again when
  // one changed (mtime or size) or refresh_interval passed.
  void WatchFiles(Job* job, const FileSdConfig& sd, size_t index) {
    struct Seen {
      std::map<std::string, std::pair<int64_t, int64_t>> stamps;  // path: mtime, size
      int64_t last_read = 0;
    };
    auto seen = std::make_shared<Seen>();
    const std::string source = "file_sd_configs/" + std::to_string(index);
    auto check = [this, job, sd, seen, source] {
      std::map<std::string, std::pair<int64_t, int64_t>> stamps;
      for (const std::string& pattern : sd.files) {
        for (const std::string& path : Expand(pattern)) {
          struct stat st {};
          if (::stat(path.c_str(), &st) == 0) {
            stamps[path] = {
                static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                static_cast<int64_t>(st.st_size)};
          }
        }
      }
      const int64_t now = rt_.clock.MonotonicNanos();
      if (stamps == seen->stamps && seen->last_read != 0 &&
          now - seen->last_read < sd.refresh_interval.count()) {
        return;
      }
      seen->stamps = stamps;
      seen->last_read = now;
      std::vector<TargetGroup> all;
      for (const auto& [path, stamp] : stamps) {
        Result<std::string> text = io::ReadSmallFile(rt_.log->fs(), path);
        if (!text.ok()) continue;
        Result<std::vector<TargetGroup>> groups = ParseTargetGroups(*text, path);
        if (!groups.ok()) {
          // Prometheus keeps the targets it had from a file it cannot read.
          logging::Error("prometheus", "file_sd file not loaded",
                         {{"file", path}, {"error", groups.status().ToString()}});
          return;
        }
        for (TargetGroup& g : *groups) all.push_back(std::move(g));
      }
      job->SetGroups(source, std::move(all));
      PublishTargets();
    };
    check();  // the first read, before the first scrape
    scheduler::Task task;
    task.interval = kFileCheckEvery;
    task.cadence = scheduler::Cadence::kAfterDone;
    task.offset = kFileCheckEvery;
    task.run = [check](int64_t, scheduler::Done done) {
      check();
      done();
    };
    scheduler_->Add(std::move(task));
  }

  // http_sd: the URL is asked at start and every refresh_interval after an
  // answer; an answer that is not a list of target groups keeps the targets
  // the last good one gave, as Prometheus does.
  Status WatchUrl(Job* job, const HttpSdConfig& sd, size_t index) {
    SLUICE_ASSIGN_OR_RETURN(net::Endpoint e, net::Endpoint::Parse(sd.url, net::EndpointForm::kUrl));
    FetchTls tls;
    if (e.tls) {
      SLUICE_ASSIGN_OR_RETURN(
          std::unique_ptr<boost::asio::ssl::context> context,
          net::MakeClientTlsContext(sd.tls_config.value_or(net::TlsClientOptions{})));
      tls.context = std::move(context);
      if (sd.tls_config) {
        tls.server_name = sd.tls_config->server_name_override;
        tls.verify = !sd.tls_config->insecure_skip_verify;
      }
    }
    auto fetcher =
        std::make_shared<Fetcher>(rt_.io, e.host, std::to_string(e.port), std::move(tls));
    const std::string path = e.path.empty() ? "/" : e.path;
    const std::string source = "http_sd_configs/" + std::to_string(index);
    net::Headers headers = {
        {"Accept", "application/json"},
        {"User-Agent", "sluice"},
        {"X-Prometheus-Refresh-Interval-Seconds",
         std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(sd.refresh_interval).count())}};
    // Collects one answer, at most 16 MiB of it.
    class Answer final : public FetchHandler {
     public:
      explicit Answer(std::function<void(Status, std::string)> done) : done_(std::move(done)) {}
      Status OnHeaders(int status, std::string_view, std::string_view encoding) override {
        if (status != 200) return Status::Unavailable("HTTP status " + std::to_string(status));
        if (!encoding.empty() && encoding != "identity") {
          return Status::InvalidArgument("unsupported Content-Encoding");
        }
        return Status::Ok();
      }
      Status OnBody(std::string_view chunk) override {
        if (body_.size() + chunk.size() > (16u << 20)) {
          return Status::ResourceExhausted("answer larger than 16 MiB");
        }
        body_.append(chunk);
        return Status::Ok();
      }
      void OnDone(Status st) override {
        auto done = std::move(done_);
        std::string body = std::move(body_);
        done(std::move(st), std::move(body));  // may delete this
      }

     private:
      std::function<void(Status, std::string)> done_;
      std::string body_;
    };
    scheduler::Task task;
    task.cadence = scheduler::Cadence::kAfterDone;
    task.interval = sd.refresh_interval;
    task.timeout = HttpSdTimeout(sd);
    task.run = [this, job, fetcher, path, headers, source, url = sd.url](int64_t deadline,
                                                                         scheduler::Done done) {
      done = in_flight_->Track(std::move(done));  // Shutdown waits for the answer
      auto answer = std::make_shared<std::shared_ptr<Answer>>();
      *answer = std::make_shared<Answer>(
          [this, job, source, url, answer, done = std::move(done)](Status st, std::string body) {
            if (st.ok()) {
              Result<std::vector<TargetGroup>> groups = ParseTargetGroups(body, url);
              if (groups.ok()) {
                job->SetGroups(source, std::move(*groups));
                PublishTargets();
              } else {
                st = groups.status();
              }
            }
            if (!st.ok()) {
              logging::Error("prometheus", "http_sd answer not used; the targets stay as they were",
                             {{"url", url}, {"error", st.ToString()}});
            }
            answer->reset();  // the handler's last use
            done();
          });
      const auto left = std::chrono::nanoseconds(deadline - rt_.clock.MonotonicNanos());
      fetcher->Get(path, headers, std::chrono::steady_clock::now() + left, answer->get());
    };
    scheduler_->Add(std::move(task));
    return Status::Ok();
  }

  void PublishTargets() {
    size_t n = 0;
    for (const auto& j : jobs_) n += j->targets();
    targets_.Set(static_cast<double>(n));
  }

  const pipeline::ComponentSettings settings_;
  const PrometheusOptions options_;
  pipeline::Runtime& rt_;
  IngestCounters counters_;
  telemetry::CounterFamily& scrapes_;
  telemetry::Counter& truncated_;
  telemetry::Gauge& targets_;
  std::shared_ptr<scheduler::InFlight> in_flight_;
  std::unique_ptr<scheduler::Scheduler> scheduler_;
  std::vector<std::unique_ptr<Job>> jobs_;
};

}  // namespace

Result<std::vector<TargetGroup>> ParseTargetGroups(const std::string& text,
                                                   const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ": " + e.what());
  }
  if (root.IsNull()) return std::vector<TargetGroup>();
  if (!root.IsSequence()) {
    return Status::InvalidArgument(source + ": expected a list of target groups");
  }
  std::vector<TargetGroup> out;
  size_t i = 0;
  for (auto gi = root.begin(); gi != root.end(); ++gi) {
    const YAML::Node g = *gi;
    TargetGroup group;
    group.source = source + "[" + std::to_string(i++) + "]";
    if (!g.IsMap()) return Status::InvalidArgument(group.source + ": expected a map");
    for (auto it = g.begin(); it != g.end(); ++it) {
      const std::string key = it->first.Scalar();
      const YAML::Node v = it->second;
      if (key == "targets") {
        if (!v.IsSequence()) {
          return Status::InvalidArgument(group.source + ".targets: expected a list");
        }
        for (auto ti = v.begin(); ti != v.end(); ++ti) {
          const YAML::Node t = *ti;
          if (!t.IsScalar()) {
            return Status::InvalidArgument(group.source + ".targets: expected host:port");
          }
          group.targets.push_back(t.Scalar());
        }
      } else if (key == "labels") {
        if (v.IsNull()) continue;
        if (!v.IsMap()) return Status::InvalidArgument(group.source + ".labels: expected a map");
        for (auto l = v.begin(); l != v.end(); ++l) {
          if (!l->second.IsScalar()) {
            return Status::InvalidArgument(group.source + ".labels." + l->first.Scalar() +
                                           ": expected a string");
          }
          const std::string name = l->first.Scalar();
          if (!wire::prom::ValidLabelName(name)) {
            return Status::InvalidArgument(group.source + ".labels: invalid label name \"" + name +
                                           "\"");
          }
          group.labels.emplace_back(name, l->second.Scalar());
        }
      } else {
        return Status::InvalidArgument(group.source + ": unknown key \"" + key + "\"");
      }
    }
    out.push_back(std::move(group));
  }
  return out;
}

pipeline::ComponentType PrometheusReceiverType() {
  return pipeline::MakeReceiverType(
      "prometheus",
      "Scrapes Prometheus targets (text 0.0.4 and OpenMetrics) by the scrape_configs of a "
      "Prometheus configuration, on one scheduler (docs/collection.md).",
      {log::Signal::kMetrics}, PrometheusOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const PrometheusOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Receiver>> {
        return std::unique_ptr<pipeline::Receiver>(new PrometheusReceiver(s, o, rt));
      });
}

}  // namespace sluice::receivers::prometheus
