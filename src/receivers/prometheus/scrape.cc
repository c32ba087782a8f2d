#include "receivers/prometheus/scrape.h"

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/logging.h"
#include "base/units.h"
#include "io/file_system.h"
#include "wire/otlp/common.h"
#include "wire/prom/encode.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::receivers::prometheus {
namespace {

namespace pf = wire::prom::field;
using wire::ProtoWriter;

// Prometheus' stale marker: a NaN no computation produces.
constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
double StaleNaN() {
  return std::bit_cast<double>(kStaleNaNBits);
}

std::string QueryEscape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

Result<std::optional<Target>> MakeTarget(
    const ScrapeConfig& config, std::string_view address,
    const std::vector<std::pair<std::string, std::string>>& group_labels) {
  relabel::LabelSet ls;
  for (const auto& [name, value] : group_labels) ls.Set(name, value);
  ls.Set("__address__", address);
  auto set_default = [&](std::string_view name, std::string_view value) {
    if (ls.Get(name).empty()) ls.Set(name, value);
  };
  set_default("job", config.job_name);
  set_default("__scheme__", config.scheme);
  set_default("__metrics_path__", config.metrics_path);
  set_default("__scrape_interval__", FormatDuration(config.scrape_interval));
  set_default("__scrape_timeout__", FormatDuration(config.scrape_timeout));
  for (const auto& [name, values] : config.params) {
    if (!values.empty()) set_default("__param_" + name, values[0]);
  }
  if (!relabel::Apply(config.relabel_configs, &ls)) return std::optional<Target>();
  const std::string addr(ls.Get("__address__"));
  if (addr.empty()) return std::optional<Target>();
  if (ls.Get("instance").empty()) ls.Set("instance", addr);

  Target t;
  t.scheme = std::string(ls.Get("__scheme__"));
  if (t.scheme != "http" && t.scheme != "https") {
    return Status::InvalidArgument("target " + addr + ": scheme \"" + t.scheme +
                                   "\" is neither http nor https");
  }
  const size_t colon = addr.rfind(':');
  const bool bracketed = !addr.empty() && addr[0] == '[';
  if (colon == std::string::npos || (bracketed && addr.back() == ']')) {
    t.host = addr;
    t.port = t.scheme == "https" ? "443" : "80";
  } else {
    t.host = addr.substr(0, colon);
    t.port = addr.substr(colon + 1);
  }
  if (t.host.size() >= 2 && t.host.front() == '[' && t.host.back() == ']') {
    t.host = t.host.substr(1, t.host.size() - 2);
  }
  if (t.host.empty() || t.port.empty() || t.port.size() > 5 ||
      t.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(t.port) == 0 ||
      std::stoi(t.port) > 65535 || addr.find('/') != std::string::npos ||
      (!bracketed && t.host.find(':') != std::string::npos)) {
    return Status::InvalidArgument("target address \"" + addr +
                                   "\" is not host:port (a port 1 to 65535; IPv6 in brackets)");
  }
  // A rule may give the target its own interval and timeout, as in
  // Prometheus.
  Result<std::chrono::nanoseconds> interval = ParseDuration(ls.Get("__scrape_interval__"));
  Result<std::chrono::nanoseconds> timeout = ParseDuration(ls.Get("__scrape_timeout__"));
  if (!interval.ok() || !timeout.ok() || *interval < std::chrono::milliseconds(1) ||
      *timeout < std::chrono::milliseconds(1) || *timeout > *interval) {
    return Status::InvalidArgument(
        "target " + addr + ": __scrape_interval__ \"" + std::string(ls.Get("__scrape_interval__")) +
        "\" and __scrape_timeout__ \"" + std::string(ls.Get("__scrape_timeout__")) +
        "\" are not durations with the timeout at most the interval");
  }
  t.interval = *interval;
  t.timeout = *timeout;
  t.path = std::string(ls.Get("__metrics_path__"));
  if (t.path.empty() || t.path[0] != '/') t.path = "/" + t.path;
  std::string query;
  for (const auto& [name, values] : config.params) {
    for (size_t i = 0; i < values.size(); ++i) {
      std::string_view v = values[i];
      if (i == 0) v = ls.Get("__param_" + name);
      query += query.empty() ? "" : "&";
      query += QueryEscape(name) + "=" + QueryEscape(v);
    }
  }
  for (size_t i = 0; i < ls.size(); ++i) {  // __param_ labels set by relabelling alone
    std::string_view n = ls[i].name;
    if (!n.starts_with("__param_")) continue;
    std::string name(n.substr(8));
    bool configured = false;
    for (const auto& p : config.params) configured |= p.first == name;
    if (configured) continue;
    query += query.empty() ? "" : "&";
    query += QueryEscape(name) + "=" + QueryEscape(ls[i].value);
  }
  if (!query.empty()) t.path += (t.path.find('?') == std::string::npos ? "?" : "&") + query;

  ls.RemoveIf([](std::string_view name) { return name.starts_with("__"); });
  ls.Sort();
  uint64_t h = 0;
  for (size_t i = 0; i < ls.size(); ++i) {
    t.labels.emplace_back(ls[i].name, ls[i].value);
    h = XXH3_64bits_withSeed(ls[i].name.data(), ls[i].name.size(), h);
    h = XXH3_64bits_withSeed(ls[i].value.data(), ls[i].value.size(), h ^ 0xff);
  }
  // With the URL: targets that differ only in their path or parameters
  // (which leave no label) still get phases and shards of their own.
  const std::string url = t.url();
  t.hash = XXH3_64bits_withSeed(url.data(), url.size(), h);
  return std::optional<Target>(std::move(t));
}

ScrapeLoop::ScrapeLoop(std::shared_ptr<const ScrapeJob> job, Target target)
    : job_(std::move(job)), target_(std::move(target)) {
  FetchTls tls;
  if (target_.scheme == "https") {
    tls.context = job_->tls_context;
    if (job_->config.tls_config) {
      tls.server_name = job_->config.tls_config->server_name_override;
      tls.verify = !job_->config.tls_config->insecure_skip_verify;
    }
  }
  fetcher_ = std::make_shared<Fetcher>(job_->rt->io, target_.host, target_.port, std::move(tls));
  for (const auto& [name, value] : job_->external_labels) {
    bool present = false;
    for (const auto& l : target_.labels) present |= l.first == name;
    if (!present) external_.emplace_back(name, value);
  }
  std::sort(external_.begin(), external_.end());
  auto_labels_ = target_.labels;
  auto_labels_.insert(auto_labels_.end(), external_.begin(), external_.end());
  const ScrapeConfig& c = job_->config;
  headers_.emplace_back("Accept",
                        "application/openmetrics-text;version=1.0.0;q=0.5,"
                        "text/plain;version=0.0.4;q=0.4,*/*;q=0.1");
  headers_.emplace_back("Accept-Encoding", "gzip");
  headers_.emplace_back("User-Agent", "sluice");
  headers_.emplace_back("X-Prometheus-Scrape-Timeout-Seconds",
                        std::to_string(std::chrono::duration<double>(target_.timeout).count()));
  if (c.basic_auth) {
    if (!c.basic_auth->password_file.empty()) {
      credentials_file_ = c.basic_auth->password_file;
      basic_user_ = c.basic_auth->username;
    }
    std::string basic = "Basic ";
    wire::otlp::AppendBase64(basic, c.basic_auth->username + ":" + c.basic_auth->password);
    headers_.emplace_back("Authorization", std::move(basic));
  } else if (c.authorization) {
    if (!c.authorization->credentials_file.empty()) {
      credentials_file_ = c.authorization->credentials_file;
      credentials_prefix_ = c.authorization->type + " ";
    }
    headers_.emplace_back("Authorization",
                          c.authorization->type + " " + c.authorization->credentials);
  }
}

ScrapeLoop::~ScrapeLoop() {
  if (zs_open_) inflateEnd(&zs_);
}

std::string ScrapeLoop::ReadSecret() const {
  // "" if unreadable: the target then answers 401, a failed scrape.
  Result<std::string> s = io::ReadSmallFile(job_->rt->log->fs(), credentials_file_);
  if (!s.ok()) return "";
  while (!s->empty() && (s->back() == '\n' || s->back() == '\r')) s->pop_back();
  return std::move(*s);
}

void ScrapeLoop::Run(int64_t deadline_mono, scheduler::Done done) {
  {
    MutexLock lock(state_mu_);
    if (gone_) {
      done();
      return;
    }
    running_ = true;
  }
  done_ = std::move(done);
  // The fetch calls back into this loop: it lives until the scrape is over,
  // even if its target is removed meanwhile.
  self_ = shared_from_this();
  start_ = std::chrono::steady_clock::now();
  start_unix_ms_ = job_->rt->clock.NowUnixNanos() / 1'000'000;
  const int64_t left = deadline_mono - job_->rt->clock.MonotonicNanos();
  parsing_ = false;
  gzip_ = false;
  body_bytes_ = 0;
  error_ = Status::Ok();
  scraped_count_ = post_relabel_ = kept_ = 0;
  min_ms_ = max_ms_ = start_unix_ms_;
  payload_.clear();
  series_.clear();
  series_.reserve(last_count_);
  if (job_->over_target_limit->load()) {
    OnDone(Status::ResourceExhausted(
        "target_limit exceeded: " + std::to_string(job_->config.target_limit) + " targets"));
    return;
  }
  if (!credentials_file_.empty()) {
    // Read at each scrape, as Prometheus does: a rotated token is used at
    // once.
    if (basic_user_.empty()) {
      headers_.back().second = credentials_prefix_ + ReadSecret();
    } else {
      headers_.back().second = "Basic ";
      wire::otlp::AppendBase64(headers_.back().second, basic_user_ + ":" + ReadSecret());
    }
  }
  fetcher_->Get(target_.path, headers_,
                start_ + std::chrono::nanoseconds(std::max<int64_t>(0, left)), this);
}

Status ScrapeLoop::OnHeaders(int status, std::string_view content_type,
                             std::string_view content_encoding) {
  if (status != 200) {
    return Status::Unavailable("server returned HTTP status " + std::to_string(status));
  }
  if (content_encoding == "gzip") {
    gzip_ = true;
    zs_ = {};
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) return Status::Internal("inflateInit2");
    zs_open_ = true;
  } else if (!content_encoding.empty() && content_encoding != "identity") {
    return Status::InvalidArgument("unsupported Content-Encoding \"" +
                                   std::string(content_encoding) + "\"");
  }
  if (parser_) {
    parser_->Reset(wire::prom::FormatOfContentType(content_type));  // keeps its buffers
  } else {
    parser_.emplace(wire::prom::FormatOfContentType(content_type));
  }
  parsing_ = true;
  return Status::Ok();
}

Status ScrapeLoop::Parse(std::string_view text) {
  body_bytes_ += text.size();
  const uint64_t limit = job_->config.body_size_limit;
  if (limit > 0 && body_bytes_ > limit) {
    return Status::ResourceExhausted("body_size_limit exceeded (" + std::to_string(limit) +
                                     " bytes)");
  }
  Status st = parser_->Feed(text, [this](const wire::prom::ExpositionSample& s) { AddSample(s); });
  if (!st.ok()) return st;
  return error_;
}

Status ScrapeLoop::OnBody(std::string_view chunk) {
  if (!gzip_) return Parse(chunk);
  zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
  zs_.avail_in = static_cast<uInt>(chunk.size());
  inflated_.resize(64 * 1024);
  while (zs_.avail_in > 0) {
    zs_.next_out = reinterpret_cast<Bytef*>(inflated_.data());
    zs_.avail_out = static_cast<uInt>(inflated_.size());
    const int r = inflate(&zs_, Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
      return Status::InvalidArgument("gzip: " + std::string(zs_.msg ? zs_.msg : "corrupt data"));
    }
    const size_t n = inflated_.size() - zs_.avail_out;
    if (n > 0) SLUICE_RETURN_IF_ERROR(Parse(std::string_view(inflated_.data(), n)));
    if (r == Z_STREAM_END) break;
    if (n == 0 && r == Z_BUF_ERROR) break;
  }
  return Status::Ok();
}

bool ScrapeLoop::MergeLabels(const wire::prom::ExpositionSample& s) {
  scraped_.clear();
  scraped_.emplace_back("__name__", s.name);
  // Empty values too: absent from the series, but under honor_labels they
  // still keep the target's label off (Pushgateway's instance="").
  for (const wire::prom::ExpositionLabel& l : s.labels) {
    if (l.name != "__name__") scraped_.emplace_back(l.name, l.value);
  }
  // A few labels: insertion sort.
  for (size_t i = 1; i < scraped_.size(); ++i) {
    for (size_t k = i; k > 0 && scraped_[k].first < scraped_[k - 1].first; --k) {
      std::swap(scraped_[k], scraped_[k - 1]);
    }
  }
  // Merge the three sorted lists: the target's labels win over external
  // ones; a scraped label clashing with a target's needs exported_ (not
  // here) unless honor_labels keeps the scraped one.
  const auto& target = target_.labels;
  size_t i = 0, j = 0, k = 0;
  while (i < scraped_.size() || j < target.size() || k < external_.size()) {
    std::string_view m;
    bool any = false;
    auto consider = [&](std::string_view n) {
      if (!any || n < m) m = n;
      any = true;
    };
    if (i < scraped_.size()) consider(scraped_[i].first);
    if (j < target.size()) consider(target[j].first);
    if (k < external_.size()) consider(external_[k].first);
    const bool hi = i < scraped_.size() && scraped_[i].first == m;
    const bool hj = j < target.size() && target[j].first == m;
    const bool hk = k < external_.size() && external_[k].first == m;
    if (hi && hj && !job_->config.honor_labels) return false;
    if (hi) {
      if (!scraped_[i].second.empty()) {
        merged_.push_back(scraped_[i]);
      } else if (hk && !hj) {
        merged_.emplace_back(external_[k].first, external_[k].second);
        ++external_added_;
      }
    } else if (hj) {
      merged_.emplace_back(target[j].first, target[j].second);
    } else {
      merged_.emplace_back(external_[k].first, external_[k].second);
      ++external_added_;
    }
    i += hi;
    j += hj;
    k += hk;
  }
  return true;
}

bool ScrapeLoop::RelabelLabels(const wire::prom::ExpositionSample& s) {
  const ScrapeConfig& c = job_->config;
  labels_.Clear();
  labels_.Add("__name__", s.name);
  for (const wire::prom::ExpositionLabel& l : s.labels) {
    if (l.name == "__name__") continue;
    if (!l.value.empty()) labels_.Add(l.name, l.value);
  }
  auto scraped_has = [&](std::string_view name) {
    for (const wire::prom::ExpositionLabel& l : s.labels) {
      if (l.name == name) return true;
    }
    return false;
  };
  for (const auto& [name, value] : target_.labels) {
    if (c.honor_labels && scraped_has(name)) continue;  // even with an empty value
    if (labels_.Has(name)) {
      // The scraped value moves to exported_<name> (and further prefixes
      // while that is taken too); the target's wins.
      label_scratch_ = "exported_" + name;
      while (labels_.Has(label_scratch_)) label_scratch_.insert(0, "exported_");
      value_scratch_ = labels_.Get(name);  // a copy: Add may move the set's strings
      labels_.Add(label_scratch_, value_scratch_);
    }
    labels_.Set(name, value);
  }
  if (!c.metric_relabel_configs.empty() && !relabel::Apply(c.metric_relabel_configs, &labels_)) {
    return false;
  }
  if (labels_.Get("__name__").empty()) return false;
  // After metric relabelling, as Prometheus adds them when it sends: rules
  // neither see nor remove them.
  for (const auto& [name, value] : job_->external_labels) {
    if (!labels_.Has(name)) {
      labels_.Set(name, value);
      ++external_added_;
    }
  }
  labels_.Sort();
  merged_.clear();
  for (size_t i = 0; i < labels_.size(); ++i)
    merged_.emplace_back(labels_[i].name, labels_[i].value);
  return true;
}

void ScrapeLoop::AddSample(const wire::prom::ExpositionSample& s) {
  ++scraped_count_;
  if (!error_.ok()) return;
  const ScrapeConfig& c = job_->config;
  // Without metric relabelling the labels are merged as views of the body
  // and the target, copying nothing; otherwise (or on a clash that renames
  // a label to exported_<name>) they go through a LabelSet.
  merged_.clear();
  external_added_ = 0;
  if (!c.metric_relabel_configs.empty() || !MergeLabels(s)) {
    external_added_ = 0;
    if (!RelabelLabels(s)) return;  // dropped
  }
  ++post_relabel_;
  // Prometheus adds external labels when it sends, after the limits.
  const size_t own = merged_.size() - external_added_;
  if (c.label_limit > 0 && static_cast<int64_t>(own) > c.label_limit) {
    error_ = Status::ResourceExhausted("label_limit exceeded: a sample has " + std::to_string(own) +
                                       " labels");
    return;
  }
  if (c.label_name_length_limit > 0 || c.label_value_length_limit > 0) {
    for (const auto& [name, value] : merged_) {
      if (c.label_name_length_limit > 0 &&
          static_cast<int64_t>(name.size()) > c.label_name_length_limit) {
        error_ = Status::ResourceExhausted("label_name_length_limit exceeded by \"" +
                                           std::string(name) + "\"");
        return;
      }
      if (c.label_value_length_limit > 0 &&
          static_cast<int64_t>(value.size()) > c.label_value_length_limit) {
        error_ = Status::ResourceExhausted("label_value_length_limit exceeded by label \"" +
                                           std::string(name) + "\"");
        return;
      }
    }
  }
  if (c.sample_limit > 0 && static_cast<int64_t>(kept_) >= c.sample_limit) {
    if (c.sample_limit_action == ScrapeConfig::LimitAction::kTruncate) {
      job_->truncated->Inc();
      return;
    }
    error_ = Status::ResourceExhausted("sample_limit exceeded: more than " +
                                       std::to_string(c.sample_limit) + " samples");
    return;
  }
  int64_t ts = start_unix_ms_;
  const bool own_time =
      s.has_timestamp && c.honor_timestamps && wire::prom::TimestampInRange(s.timestamp_ms);
  if (own_time) ts = s.timestamp_ms;
  min_ms_ = std::min(min_ms_, ts);
  max_ms_ = std::max(max_ms_, ts);
  const std::pair<size_t, size_t> range = Encode(s.value, ts);
  // The series' identity: its encoded labels, hashed in one call.
  series_.push_back({XXH3_64bits(payload_.data() + range.first, range.second - range.first),
                     range.first, range.second, !own_time});
  ++kept_;
}

namespace {

// Raw writes into a buffer sized beforehand: a series is encoded with one
// resize of the payload instead of a push_back per key and length byte.
char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}
char* PutBytes(char* p, uint32_t field, std::string_view b) {
  p = PutVarint(p, (static_cast<uint64_t>(field) << 3) | 2);
  p = PutVarint(p, b.size());
  std::memcpy(p, b.data(), b.size());
  return p + b.size();
}

}  // namespace

std::pair<size_t, size_t> ScrapeLoop::Encode(double value, int64_t ts) {
  size_t labels = 0;
  for (const auto& [name, v] : merged_) {
    labels += ProtoWriter::LengthDelimitedSize(pf::kSeriesLabels, wire::prom::LabelSize(name, v));
  }
  const size_t sample =
      ProtoWriter::Fixed64FieldSize(pf::kSampleValue) +
      ProtoWriter::VarintFieldSize(pf::kSampleTimestamp, static_cast<uint64_t>(ts));
  const size_t series = labels + ProtoWriter::LengthDelimitedSize(pf::kSeriesSamples, sample);
  const size_t at = payload_.size();
  payload_.resize(at + ProtoWriter::LengthDelimitedSize(pf::kWriteTimeseries, series));
  char* p = payload_.data() + at;
  p = PutVarint(p, (pf::kWriteTimeseries << 3) | 2);
  p = PutVarint(p, series);
  const size_t begin = static_cast<size_t>(p - payload_.data());
  for (const auto& [name, v] : merged_) {
    p = PutVarint(p, (pf::kSeriesLabels << 3) | 2);
    p = PutVarint(p, wire::prom::LabelSize(name, v));
    p = PutBytes(p, pf::kLabelName, name);
    p = PutBytes(p, pf::kLabelValue, v);
  }
  const size_t end = static_cast<size_t>(p - payload_.data());
  p = PutVarint(p, (pf::kSeriesSamples << 3) | 2);
  p = PutVarint(p, sample);
  p = PutVarint(p, (pf::kSampleValue << 3) | 1);
  std::memcpy(p, &value, 8);
  p += 8;
  p = PutVarint(p, pf::kSampleTimestamp << 3);
  p = PutVarint(p, static_cast<uint64_t>(ts));
  SLUICE_DCHECK(static_cast<size_t>(p - payload_.data()) == payload_.size());
  return {begin, end};
}

void ScrapeLoop::AppendAutoMetrics(std::string* out, bool up, double seconds, uint64_t scraped,
                                   uint64_t post_relabel, uint64_t added, int64_t ts) const {
  const std::pair<const char*, double> metrics[] = {
      {"up", up ? 1.0 : 0.0},
      {"scrape_duration_seconds", seconds},
      {"scrape_samples_scraped", static_cast<double>(scraped)},
      {"scrape_samples_post_metric_relabeling", static_cast<double>(post_relabel)},
      {"scrape_series_added", static_cast<double>(added)},
  };
  std::string labels;
  std::vector<std::pair<std::string_view, std::string_view>> sorted;
  for (const auto& [name, value] : metrics) {
    sorted.assign(auto_labels_.begin(), auto_labels_.end());
    sorted.emplace_back("__name__", name);
    std::sort(sorted.begin(), sorted.end());
    labels.clear();
    ProtoWriter w(&labels);
    for (const auto& [n, v] : sorted) wire::prom::AppendLabel(w, n, v);
    wire::prom::AppendSeries(out, labels, value, ts);
  }
}

uint64_t ScrapeLoop::AppendStale(std::string* out, const std::vector<uint64_t>* keep, int64_t ts,
                                 std::vector<uint64_t>* previous) const {
  if (last_labels_.empty()) return 0;
  const unsigned long long size =
      ZSTD_getFrameContentSize(last_labels_.data(), last_labels_.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) return 0;
  std::string plain(size, '\0');
  const size_t n =
      ZSTD_decompress(plain.data(), plain.size(), last_labels_.data(), last_labels_.size());
  if (ZSTD_isError(n)) return 0;
  uint64_t marked = 0;
  wire::ProtoReader r(std::string_view(plain.data(), n));
  while (r.Next()) {
    if (r.field() != 1) continue;
    // The hash (8 bytes), whether it is marked stale (1), the labels.
    std::string_view entry = r.bytes();
    if (entry.size() < 9) continue;
    uint64_t h;
    std::memcpy(&h, entry.data(), 8);
    if (previous != nullptr) previous->push_back(h);
    if (entry[8] == 0) continue;  // it has timestamps of its own
    if (keep != nullptr && std::binary_search(keep->begin(), keep->end(), h)) continue;
    wire::prom::AppendSeries(out, entry.substr(9), StaleNaN(), ts);
    ++marked;
  }
  return marked;
}

void ScrapeLoop::OnDone(Status status) {
  if (status.ok() && parsing_) {
    status = parser_->Finish([this](const wire::prom::ExpositionSample& s) { AddSample(s); });
    if (status.ok()) status = error_;
  } else if (status.ok()) {
    status = Status::Internal("no response");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string out;
  uint64_t items = 0, added = 0;
  if (status.ok()) {
    // The series set in scrape order, hashed: the same as last time, the
    // common case, needs neither the sort nor the stale check below.
    uint64_t signature = series_.size();
    for (const SeriesRef& r : series_) signature = signature * 0x9E3779B97F4A7C15ull + r.hash;
    if (signature != last_signature_ || last_labels_.empty() != series_.empty()) {
      std::vector<uint64_t> hashes;
      hashes.reserve(series_.size());
      for (const SeriesRef& r : series_) hashes.push_back(r.hash);
      std::sort(hashes.begin(), hashes.end());
      std::vector<uint64_t> previous;
      items += AppendStale(&payload_, &hashes, start_unix_ms_, &previous);
      std::sort(previous.begin(), previous.end());
      for (uint64_t h : hashes) {
        if (!std::binary_search(previous.begin(), previous.end(), h)) ++added;
      }
      // Keep this scrape's series for the next one's stale markers.
      std::string plain;
      ProtoWriter w(&plain);
      for (const SeriesRef& r : series_) {
        const size_t len = r.end - r.begin;
        w.MessageHeader(1, 8 + len + 1);
        plain.append(reinterpret_cast<const char*>(&r.hash), 8);
        plain += r.stale_tracked ? '\1' : '\0';
        plain.append(payload_, r.begin, len);
      }
      std::string compressed(ZSTD_compressBound(plain.size()), '\0');
      const size_t n =
          ZSTD_compress(compressed.data(), compressed.size(), plain.data(), plain.size(), 1);
      compressed.resize(ZSTD_isError(n) ? 0 : n);
      compressed.shrink_to_fit();
      last_labels_ = std::move(compressed);
      last_signature_ = signature;
    }
    out = std::move(payload_);
    items += kept_;
    job_->scrapes->With({job_->receiver, job_->config.job_name, "ok"}).Inc();
  } else {
    // A failed scrape: its samples are dropped and the previous scrape's
    // series go stale, as Prometheus does.
    items += AppendStale(&out, nullptr, start_unix_ms_);
    std::string().swap(last_labels_);
    last_signature_ = 0;
    job_->scrapes->With({job_->receiver, job_->config.job_name, "failed"}).Inc();
    logging::Debug(
        "prometheus", "scrape failed",
        {{"receiver", job_->receiver}, {"target", target_.url()}, {"error", status.ToString()}});
  }
  // What a scrape needs only while it runs is let go, so an idle target
  // costs its compressed series and little else (10,000 targets).
  std::string().swap(payload_);
  last_count_ = series_.size();
  std::vector<SeriesRef>().swap(series_);
  parser_.reset();  // its line buffers grow with the longest line seen
  labels_ = relabel::LabelSet();
  std::vector<std::pair<std::string_view, std::string_view>>().swap(scraped_);
  std::vector<std::pair<std::string_view, std::string_view>>().swap(merged_);
  std::string().swap(inflated_);
  if (zs_open_) {
    inflateEnd(&zs_);  // its window is 32 KiB
    zs_open_ = false;
  }
  // A failed scrape reports no samples, as Prometheus does.
  AppendAutoMetrics(&out, status.ok(), seconds, status.ok() ? scraped_count_ : 0,
                    status.ok() ? post_relabel_ : 0, added, start_unix_ms_);
  items += 5;
  Store(std::move(out), items, std::min(min_ms_, start_unix_ms_),
        std::max(max_ms_, start_unix_ms_));
  bool gone;
  {
    MutexLock lock(state_mu_);
    running_ = false;
    gone = gone_;
  }
  if (gone) StoreStaleForAll(job_->rt->clock.NowUnixNanos() / 1'000'000);
  scheduler::Done done = std::move(done_);
  done_ = nullptr;
  std::shared_ptr<ScrapeLoop> self = std::move(self_);  // may be the last reference
  if (done) done();
}

void ScrapeLoop::MarkGone() {
  {
    MutexLock lock(state_mu_);
    gone_ = true;
    if (running_) return;  // the scrape going marks them at its end
  }
  StoreStaleForAll(job_->rt->clock.NowUnixNanos() / 1'000'000);
}

void ScrapeLoop::StoreStaleForAll(int64_t now_ms) {
  std::string out;
  const uint64_t n = AppendStale(&out, nullptr, now_ms);
  std::string().swap(last_labels_);
  if (n > 0) Store(std::move(out), n, now_ms, now_ms);
}

void ScrapeLoop::Store(std::string payload, uint64_t items, int64_t min_ms, int64_t max_ms) {
  StorePulled(*job_->rt, job_->pipelines, *job_->counters, std::move(payload), items, min_ms,
              max_ms);
}

}  // namespace sluice::receivers::prometheus
