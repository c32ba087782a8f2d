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

bool Store(pipeline::Runtime& rt, const std::vector<pipeline::PipelineRef>& pipelines,
           IngestCounters& counters, Batch batch, std::function<void(Status)> done) {
  SLUICE_CHECK(!pipelines.empty());
  // Nothing differs between the pipelines' copies of a batch, so it is
  // written once, naming them all; only past kMaxPipelinesPerFrame of them
  // is it written again for the rest.
  std::vector<log::PipelineSet> frames(1);
  for (const pipeline::PipelineRef& p : pipelines) {
    if (!frames.back().Add(p.id)) {
      frames.emplace_back();
      frames.back().Add(p.id);
    }
  }
  uint64_t held = batch.payload.size() * frames.size();
  if (!rt.limiter.TryAcquire(held)) {
    counters.Failed("overload", batch.items);
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
  uint64_t items = batch.items;
  for (size_t i = 0; i < frames.size(); ++i) {
    log::AppendRequest a;
    a.signal = batch.signal;
    a.encoding = batch.encoding;
    a.pipelines = frames[i];
    a.tenant = batch.tenant;
    a.item_count = static_cast<uint32_t>(items);
    a.min_event_unix_nanos = batch.min_time_unix_nano;
    a.max_event_unix_nanos = batch.max_time_unix_nano;
    a.payload = i + 1 == frames.size() ? std::move(batch.payload) : batch.payload;
    rt.log.AppendAsync(std::move(a),
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

}  // namespace sluice::receivers
