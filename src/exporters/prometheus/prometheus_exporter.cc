#include "exporters/prometheus/prometheus_exporter.h"

#include <zlib.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "base/logging.h"
#include "exporters/common/delivery.h"
#include "exporters/prometheus/family_index.h"
#include "exporters/prometheus/series_store.h"
#include "exporters/prometheusremotewrite/batch_series.h"
#include "exporters/prometheusremotewrite/series.h"
#include "exporters/prometheusremotewrite/translate.h"
#include "net/endpoint.h"
#include "net/http_server.h"
#include "pipeline/read_loop.h"

namespace sluice::exporters::prometheus {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
// Scrapes waiting for the render thread; more are answered 503.
constexpr size_t kMaxQueuedScrapes = 8;

prw::TranslateOptions TranslationOf(const PrometheusOptions& o) {
  prw::TranslateOptions t;
  t.add_metric_suffixes = o.add_metric_suffixes;
  t.resource_to_telemetry = o.resource_to_telemetry_conversion.enabled;
  for (const auto& [k, v] : o.const_labels) t.external_labels.push_back({k, v});
  return t;
}

// True when Accept-Encoding lists gzip without q=0.
bool AcceptsGzip(std::string_view header) {
  size_t start = 0;
  while (start < header.size()) {
    size_t comma = header.find(',', start);
    std::string_view item = header.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? header.size() : comma + 1;
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) {
      coding.remove_suffix(1);
    }
    if (coding.size() != 4 || (coding[0] | 0x20) != 'g' || (coding[1] | 0x20) != 'z' ||
        (coding[2] | 0x20) != 'i' || (coding[3] | 0x20) != 'p') {
      continue;
    }
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    size_t q = params.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view value = params.substr(q + 2);
    // q=0, q=0.0, q=0.000: refused; anything else accepts.
    bool zero = !value.empty() && value[0] == '0';
    for (size_t i = 1; zero && i < value.size() && value[i] != ' ' && value[i] != ';'; ++i) {
      zero = value[i] == '.' || value[i] == '0';
    }
    return !zero;
  }
  return false;
}

// A gzip member written as its input arrives, so a compressed answer never
// needs the uncompressed one whole.
class GzipStream {
 public:
  GzipStream() {
    ok_ = deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK;
  }
  ~GzipStream() {
    if (ok_) deflateEnd(&z_);
  }
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;

  bool Write(std::string_view in) { return Run(in, Z_NO_FLUSH); }
  bool Finish() { return Run({}, Z_FINISH); }
  std::string& out() { return out_; }

 private:
  bool Run(std::string_view in, int flush) {
    if (!ok_) return false;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      size_t used = out_.size();
      out_.resize(used + std::max<size_t>(in.size() / 2, 16 * 1024));
      z_.next_out = reinterpret_cast<Bytef*>(out_.data() + used);
      z_.avail_out = static_cast<uInt>(out_.size() - used);
      int rc = deflate(&z_, flush);
      out_.resize(out_.size() - z_.avail_out);
      if (rc == Z_STREAM_ERROR) return ok_ = false;
      if (flush == Z_FINISH ? rc == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0)) {
        return true;
      }
    }
  }

  z_stream z_{};
  bool ok_ = false;
  std::string out_;
};

struct ExporterCounters {
  telemetry::Counter& unsupported_items;
  telemetry::Counter& dropped_points;
  StoreCounters store;
};

ExporterCounters CountersFor(telemetry::Registry& r, const std::string& id) {
  auto counter = [&](const char* name, const char* help) -> telemetry::Counter& {
    return r.AddCounter(name, help, {"exporter"}).With({id});
  };
  return ExporterCounters{
      counter("sluice_exporter_unsupported_items_total",
              "Items skipped because the exporter cannot send their encoding or could not "
              "decode them."),
      prw::DroppedPointsCounter(r, id),
      StoreCounters{
          counter("sluice_exporter_prometheus_refused_series_total",
                  "New series refused because max_series series were held (or their label "
                  "hash clashed with a held series')."),
          counter("sluice_exporter_prometheus_expired_series_total",
                  "Series removed because they were not updated within metric_expiration."),
          counter("sluice_exporter_prometheus_stale_series_total",
                  "Series removed by a Prometheus stale marker."),
          counter("sluice_exporter_prometheus_out_of_order_samples_total",
                  "Samples ignored because the series held a newer one."),
          r.AddGauge("sluice_exporter_prometheus_series", "Series served at /metrics.",
                     {"exporter"})
              .With({id}),
      }};
}

// Serves GET /metrics. Answers are built on a thread of their own, so a
// large exposition never holds up the server's I/O threads (which the
// receivers share); at most kMaxQueuedScrapes wait, more are answered 503.
class ScrapeHandler final : public net::HttpHandler {
 public:
  explicit ScrapeHandler(SeriesStore& store) : store_(store) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ScrapeHandler() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void Handle(net::HttpRequest&& req, net::Responder respond) override {
    if (req.path != "/metrics") {
      return respond(net::HttpResponse::Text(404, "not found: " + req.path + "; try /metrics"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
      net::HttpResponse r = net::HttpResponse::Text(405, "use GET");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return respond(std::move(r));
    }
    bool gzip = AcceptsGzip(req.Header("accept-encoding"));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stop_ && queue_.size() < kMaxQueuedScrapes) {
        queue_.push_back(Scrape{gzip, std::move(respond)});
        cv_.notify_one();
        return;
      }
    }
    net::HttpResponse busy = net::HttpResponse::Text(503, "too many scrapes at once; retry");
    busy.headers.emplace_back("Retry-After", "1");
    respond(std::move(busy));
  }

 private:
  struct Scrape {
    bool gzip;
    net::Responder respond;
  };

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left to answer
      Scrape s = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      s.respond(Answer(s.gzip));
      lock.lock();
    }
  }

  net::HttpResponse Answer(bool gzip) {
    store_.Expire();
    net::HttpResponse r;
    r.content_type = kContentType;
    if (!gzip) {
      store_.Render([&](std::string_view text) { r.body.append(text); });
      return r;
    }
    GzipStream z;
    bool ok = true;
    store_.Render([&](std::string_view text) { ok = ok && z.Write(text); });
    if (!(ok && z.Finish())) return net::HttpResponse::Text(500, "gzip failed");
    r.body = std::move(z.out());
    r.headers.emplace_back("Content-Encoding", "gzip");
    return r;
  }

  SeriesStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Scrape> queue_;  // guarded by mu_
  bool stop_ = false;         // guarded by mu_
  std::thread thread_;
};

// Reads its metrics pipelines from the log, translating OTLP metrics and
// splitting remote write requests into series (prw::Translator), and keeps
// each series' latest sample in a SeriesStore that /metrics serves.
//
// Threads: the read loop (Deliver, Series: the store's only writer), the
// scrape thread (Expire, Render), a sweeper (Expire every sweep interval),
// and the HTTP server's I/O threads (which only queue scrapes).
//
// Cursor: committed as batches are applied (the store holds them the moment
// they are taken). A restart starts with an empty store and fills it from
// the committed cursor on, or per start_at for a new exporter.
class PrometheusExporter final : public pipeline::Exporter, private prw::SeriesSink {
 public:
  PrometheusExporter(const pipeline::ComponentSettings& settings, const PrometheusOptions& options,
                     pipeline::Runtime& rt, std::unique_ptr<prw::Translator> translator)
      : settings_(settings),
        options_(options),
        rt_(rt),
        counters_(CountersFor(rt.metrics, settings.id)),
        reader_(std::move(translator),
                prw::BatchCounters{&counters_.unsupported_items, &counters_.dropped_points},
                settings.id),
        store_(StoreOptionsOf(options), rt.clock, counters_.store) {}

  ~PrometheusExporter() override { StopSweeper(); }

  Status Start() override {
    handler_ = std::make_unique<ScrapeHandler>(store_);
    net::HttpServerOptions o;
    o.name = settings_.id;
    o.endpoint = options_.endpoint;
    SLUICE_ASSIGN_OR_RETURN(http_, net::HttpServer::Create(rt_.io, o, *handler_, rt_.metrics));
    http_->Start();
    logging::Info("exporter", "serving /metrics",
                  {{"exporter", settings_.id}, {"address", http_->BoundAddress()}});
    pipeline::LogConsumer::Options c;
    c.name = settings_.id;
    for (const auto& p : settings_.pipelines) c.pipeline_ids.push_back(p.id);
    c.start_at = options_.start_at;
    consumer_ = std::make_unique<pipeline::LogConsumer>(
        rt_, c, [this](const log::LogReader::Batch& b) { return Deliver(b); },
        [] { return Status::Ok(); });
    SLUICE_RETURN_IF_ERROR(consumer_->Start());
    sweeper_ = std::thread([this] { Sweep(); });
    return Status::Ok();
  }

  void Stop(pipeline::Deadline deadline) override {
    if (consumer_) consumer_->Stop(deadline);
    StopSweeper();
    if (http_) {
      http_->StopAccepting();
      http_->WaitIdle(deadline);
      http_->CloseAll();
    }
  }

 private:
  static StoreOptions StoreOptionsOf(const PrometheusOptions& o) {
    StoreOptions s;
    if (!o.name_space.empty()) s.name_prefix = o.name_space + "_";
    s.send_timestamps = o.send_timestamps;
    s.metric_expiration = o.metric_expiration;
    s.max_series = static_cast<size_t>(o.max_series);
    return s;
  }

  // Real time between sweeps: often enough that an expired series does not
  // linger long past metric_expiration, rarely enough to cost nothing.
  std::chrono::milliseconds SweepInterval() const {
    auto half =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.metric_expiration) / 2;
    return std::clamp(half, std::chrono::milliseconds(100), std::chrono::milliseconds(30'000));
  }

  void Sweep() {
    std::unique_lock<std::mutex> lock(sweep_mu_);
    while (!sweep_stop_) {
      sweep_cv_.wait_for(lock, SweepInterval(), [&] { return sweep_stop_; });
      if (sweep_stop_) break;
      lock.unlock();
      store_.Expire();
      lock.lock();
    }
  }

  void StopSweeper() {
    {
      std::lock_guard<std::mutex> lock(sweep_mu_);
      sweep_stop_ = true;
    }
    sweep_cv_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
  }

  // Applies every sample of the batch to the store. Never fails: a batch
  // that cannot be read is counted and skipped (MetricsBatchReader), so the
  // cursor never stops behind it.
  Status Deliver(const log::LogReader::Batch& batch) {
    reader_.Read(batch, *this, [this](prw::MetricsFormat format, std::string_view payload) {
      if (format == prw::MetricsFormat::kOtlp) {
        families_.IndexOtlp(payload, options_.add_metric_suffixes);
      } else {
        families_.IndexWriteRequest(payload);
      }
    });
    return Status::Ok();
  }

  // One translated or passed-through series: its labels re-encoded in
  // canonical form (the stored key material), then each sample applied in
  // order.
  void Series(uint64_t label_hash, std::string_view timeseries, uint64_t samples) override {
    labels_.clear();
    points_.clear();
    std::string_view name;
    std::optional<uint64_t> histograms = prw::ReadTimeSeries(
        timeseries,
        [&](std::string_view n, std::string_view v) {
          if (n == "__name__") name = v;
          prw::AppendLabel(labels_, n, v);
        },
        [&](double value, int64_t timestamp_ms) {
          points_.push_back({value, timestamp_ms});
        });
    if (!histograms || name.empty()) {
      counters_.unsupported_items.Inc(samples);
      return;
    }
    // Native histograms have no 0.0.4 form.
    if (*histograms > 0) counters_.unsupported_items.Inc(*histograms);
    FamilyIndex::Resolved family = families_.Resolve(name);
    SampleUpdate u;
    u.label_hash = label_hash;
    u.labels = labels_;
    u.name = name;
    u.family = family.family;
    u.type = family.type;
    for (const Point& p : points_) {
      u.value = p.value;
      u.timestamp_ms = p.timestamp_ms;
      store_.Apply(u);
    }
  }

  struct Point {
    double value = 0;
    int64_t timestamp_ms = 0;
  };

  const pipeline::ComponentSettings settings_;
  const PrometheusOptions options_;
  pipeline::Runtime& rt_;
  ExporterCounters counters_;
  // Read-loop state.
  prw::MetricsBatchReader reader_;
  FamilyIndex families_;
  std::string labels_;
  std::vector<Point> points_;

  SeriesStore store_;
  std::unique_ptr<ScrapeHandler> handler_;
  std::unique_ptr<net::HttpServer> http_;
  std::unique_ptr<pipeline::LogConsumer> consumer_;

  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool sweep_stop_ = false;  // guarded by sweep_mu_
  std::thread sweeper_;
};

const config::Schema<PrometheusOptions::ResourceToTelemetry>& ResourceToTelemetrySchema() {
  static const config::Schema<PrometheusOptions::ResourceToTelemetry> schema = [] {
    config::Schema<PrometheusOptions::ResourceToTelemetry> s(
        "prometheus.resource_to_telemetry_conversion");
    s.Bool("enabled", &PrometheusOptions::ResourceToTelemetry::enabled,
           "Every resource attribute becomes a label of every series of that resource (over a "
           "point attribute with the same key), besides job and instance.");
    return s;
  }();
  return schema;
}

bool ValidNamespace(std::string_view ns) {
  if (ns.empty()) return true;
  for (size_t i = 0; i < ns.size(); ++i) {
    char c = ns[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

const config::Schema<PrometheusOptions>& PrometheusOptionsSchema() {
  static const config::Schema<PrometheusOptions> schema = [] {
    config::Schema<PrometheusOptions> s("prometheus");
    s.String("endpoint", &PrometheusOptions::endpoint,
             "host:port to serve GET /metrics on (Prometheus text format 0.0.4); port 0 picks a "
             "free port.")
        .Required()
        .String("namespace", &PrometheusOptions::name_space,
                "Put before every metric name as \"<namespace>_\".")
        .StringMap("const_labels", &PrometheusOptions::const_labels,
                   "Labels added to every series that does not have them already.")
        .Bool("send_timestamps", &PrometheusOptions::send_timestamps,
              "Write each sample's own timestamp; without it Prometheus stamps samples with the "
              "scrape time.")
        .Duration("metric_expiration", &PrometheusOptions::metric_expiration,
                  "A series not updated for this long is no longer served.", {1e6L, 31536000e9L})
        .Object("resource_to_telemetry_conversion",
                &PrometheusOptions::resource_to_telemetry_conversion, ResourceToTelemetrySchema(),
                "")
        .Bool("add_metric_suffixes", &PrometheusOptions::add_metric_suffixes,
              "Unit and _total suffixes on translated OTLP metric names.")
        .Int("max_series", &PrometheusOptions::max_series,
             "Series held at most; new series beyond it are refused and counted in "
             "sluice_exporter_prometheus_refused_series_total.",
             {1, 100'000'000})
        .Enum("start_at", &PrometheusOptions::start_at, StartAtChoices(),
              "Where a newly added exporter begins reading a log that already holds data: "
              "newest (the default) serves what arrives from now on, oldest first replays "
              "everything retained. An exporter that has run before resumes at its cursor, "
              "with an empty endpoint that fills as samples arrive.")
        .Check([](const PrometheusOptions& o) -> std::string {
          Result<net::Endpoint> e = net::Endpoint::Parse(o.endpoint, net::EndpointForm::kHostPort);
          if (!e.ok()) return "endpoint: " + e.status().message();
          if (!ValidNamespace(o.name_space)) {
            return "namespace \"" + o.name_space + "\" must match [a-zA-Z_:][a-zA-Z0-9_:]*";
          }
          Result<std::unique_ptr<prw::Translator>> t = prw::Translator::Create(TranslationOf(o));
          if (!t.ok()) return "const_labels: " + t.status().message();
          return "";
        });
    return s;
  }();
  return schema;
}

pipeline::ComponentType PrometheusExporterType() {
  return pipeline::MakeExporterType(
      "prometheus",
      "Serves the latest sample of every metrics series at GET /metrics for Prometheus to "
      "scrape (text format 0.0.4), translating OTLP metrics.",
      {log::Signal::kMetrics}, PrometheusOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const PrometheusOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        SLUICE_ASSIGN_OR_RETURN(std::unique_ptr<prw::Translator> translator,
                                prw::Translator::Create(TranslationOf(o)));
        return std::unique_ptr<pipeline::Exporter>(
            new PrometheusExporter(s, o, rt, std::move(translator)));
      });
}

}  // namespace sluice::exporters::prometheus
