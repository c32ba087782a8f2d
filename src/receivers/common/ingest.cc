#include "receivers/common/ingest.h"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "base/check.h"

namespace sluice::receivers {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string MediaType(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return Lower(t);
}

std::string MediaTypeParameter(std::string_view content_type, std::string_view name) {
  size_t pos = content_type.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = content_type.substr(pos + 1);
    size_t next = rest.find(';');
    std::string_view param = rest.substr(0, next);
    while (!param.empty() && param.front() == ' ') param.remove_prefix(1);
    size_t eq = param.find('=');
    if (eq != std::string_view::npos && Lower(param.substr(0, eq)) == Lower(name)) {
      std::string_view value = param.substr(eq + 1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      return std::string(value);
    }
    pos = next == std::string_view::npos ? next : pos + 1 + next;
  }
  return "";
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool Authorized(const net::HttpRequest& request, const std::string& bearer_token) {
  if (bearer_token.empty()) return true;
  std::string_view auth = request.Header("authorization");
  std::string_view token = auth.size() > 7 && Lower(auth.substr(0, 7)) == "bearer "
                               ? auth.substr(7)
                               : std::string_view();
  return ConstantTimeEquals(token, bearer_token);
}

IngestCounters::IngestCounters(telemetry::Registry& r, const std::string& receiver_id,
                               const std::string& item)
    : accepted(r.AddCounter("sluice_receiver_accepted_" + item + "_total",
                            "Items (" + item + ") appended to the log and acknowledged.",
                            {"receiver"})
                   .With({receiver_id})),
      refused(r.AddCounter("sluice_receiver_refused_" + item + "_total",
                           "Items rejected for what the client sent (reason=invalid, "
                           "unsupported, too_large, unauthorized).",
                           {"receiver", "reason"})),
      failed(r.AddCounter("sluice_receiver_failed_" + item + "_total",
                          "Items not accepted because sluice could not take them now "
                          "(reason=overload, unavailable, io_error); clients retry.",
                          {"receiver", "reason"})),
      receiver(receiver_id) {}

namespace {

// One version of a batch and the pipelines it goes to. Version 0 is the
// batch as received, whose bytes stay in Batch::payload.
struct Version {
  std::string payload;  // versions after 0
  uint64_t items = 0;
  std::vector<uint32_t> pipelines;
};

// Runs `chain` over the received batch. Sets *version to the index in
// *versions of what the pipeline stores (0: the batch as received), or -1
// when the processors left nothing.
Status RunChain(const std::vector<std::shared_ptr<const pipeline::Processor>>& chain,
                const Batch& batch, std::vector<Version>* versions, int* version) {
  std::string owned;
  std::string_view payload = batch.payload;
  uint64_t items = batch.items;
  bool changed = false;
  for (const auto& processor : chain) {
    pipeline::Processor::Output out;
    SLUICE_RETURN_IF_ERROR(
        processor->Process({batch.signal, batch.encoding, payload, items, batch.tenant}, &out));
    if (!out.changed) continue;
    changed = true;
    owned = std::move(out.payload);
    payload = owned;
    items = out.items;
    if (items == 0) break;
  }
  if (!changed) {
    *version = 0;
  } else if (items == 0) {
    *version = -1;
  } else {
    versions->push_back(Version{std::move(owned), items, {}});
    *version = static_cast<int>(versions->size() - 1);
  }
  return Status::Ok();
}

}  // namespace

bool Store(pipeline::Runtime& rt, const std::vector<pipeline::PipelineRef>& pipelines,
           IngestCounters& counters, Batch batch, std::function<void(Status)> done) {
  SLUICE_CHECK(!pipelines.empty());
  // Pipelines without processors, or whose processors changed nothing,
  // share the batch as received; each chain that changed it stores its own
  // version. Pipelines with the same chain share its result.
  std::vector<Version> versions(1);
  versions[0].items = batch.items;
  std::vector<std::pair<const pipeline::PipelineRef*, int>> chains_run;
  for (const pipeline::PipelineRef& p : pipelines) {
    int version = 0;
    if (!p.processors.empty()) {
      auto same = std::find_if(chains_run.begin(), chains_run.end(), [&](const auto& run) {
        return run.first->processors == p.processors;
      });
      if (same != chains_run.end()) {
        version = same->second;
      } else {
        Status st = RunChain(p.processors, batch, &versions, &version);
        if (!st.ok()) {
          counters.Refused("invalid", batch.items);
          done(Status::InvalidArgument("pipeline " + p.name + ": " + st.message()));
          return true;
        }
        chains_run.emplace_back(&p, version);
      }
    }
    if (version >= 0) versions[static_cast<size_t>(version)].pipelines.push_back(p.id);
  }
  // A batch goes into the log once per version, naming all its pipelines;
  // only past kMaxPipelinesPerFrame of them is it written again for the rest.
  struct Frame {
    size_t version;
    log::PipelineSet pipelines;
  };
  std::vector<Frame> frames;
  uint64_t held = 0;
  for (size_t v = 0; v < versions.size(); ++v) {
    size_t first = frames.size();
    for (uint32_t id : versions[v].pipelines) {
      if (frames.size() == first || !frames.back().pipelines.Add(id)) {
        frames.push_back(Frame{v, {}});
        frames.back().pipelines.Add(id);
      }
    }
    uint64_t bytes = v == 0 ? batch.payload.size() : versions[v].payload.size();
    held += bytes * (frames.size() - first);
  }
  uint64_t items = batch.items;
  if (frames.empty()) {
    // The processors kept nothing: the request is answered as stored.
    counters.accepted.Inc(items);
    done(Status::Ok());
    return true;
  }
  if (!rt.limiter.TryAcquire(held)) {
    counters.Failed("overload", items);
    return false;
  }
  struct Pending {
    std::atomic<size_t> left{0};
    std::mutex mu;
    Status first_error;
    std::function<void(Status)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = frames.size();
  pending->done = std::move(done);
  // The last frame of each version takes its payload; earlier ones copy it.
  std::vector<size_t> last_frame(versions.size(), SIZE_MAX);
  for (size_t i = 0; i < frames.size(); ++i) last_frame[frames[i].version] = i;
  for (size_t i = 0; i < frames.size(); ++i) {
    Version& version = versions[frames[i].version];
    std::string& payload = frames[i].version == 0 ? batch.payload : version.payload;
    log::AppendRequest a;
    a.signal = batch.signal;
    a.encoding = batch.encoding;
    a.pipelines = frames[i].pipelines;
    a.tenant = batch.tenant;
    a.item_count = static_cast<uint32_t>(version.items);
    a.min_event_unix_nanos = batch.min_time_unix_nano;
    a.max_event_unix_nanos = batch.max_time_unix_nano;
    a.payload = last_frame[frames[i].version] == i ? std::move(payload) : payload;
    rt.log->AppendAsync(std::move(a),
                        [&rt, &counters, pending, items, held](Result<log::AppendResult> r) {
                          if (!r.ok()) {
                            std::lock_guard<std::mutex> lock(pending->mu);
                            if (pending->first_error.ok()) pending->first_error = r.status();
                          }
                          if (pending->left.fetch_sub(1) != 1) return;
                          rt.limiter.Release(held);
                          const Status& st = pending->first_error;
                          if (st.ok()) {
                            counters.accepted.Inc(items);
                          } else {
                            counters.Failed(st.code() == StatusCode::kResourceExhausted ? "overload"
                                            : st.code() == StatusCode::kUnavailable ? "unavailable"
                                                                                    : "io_error",
                                            items);
                          }
                          pending->done(st);
                        });
  }
  return true;
}

net::HttpResponse RetryLaterText(const std::string& reason) {
  net::HttpResponse r = net::HttpResponse::Text(503, reason);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

void StorePulled(pipeline::Runtime& rt, const std::vector<pipeline::PipelineRef>& pipelines,
                 IngestCounters& counters, std::string payload, uint64_t items, int64_t min_ms,
                 int64_t max_ms) {
  if (payload.empty()) return;
  Batch batch;
  batch.signal = log::Signal::kMetrics;
  batch.encoding = log::Encoding::kPromRemoteWriteProto;
  batch.items = items;
  batch.min_time_unix_nano = min_ms * 1'000'000;
  batch.max_time_unix_nano = max_ms * 1'000'000;
  batch.payload = std::move(payload);
  Store(rt, pipelines, counters, std::move(batch), [](Status) {});
}

}  // namespace sluice::receivers
