#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backfill/series_batcher.h"
#include "backfill/source.h"
#include "net/http_client.h"
#include "relabel/selector.h"
#include "wire/prom/remote_read.h"

namespace sluice::backfill {

// Series read from a Prometheus-compatible remote read endpoint
// (/api/v1/read), one request per time slice and selector, oldest slice
// first. Each request accepts the streamed response (XOR chunks, decoded
// as they are fed, frame by frame) and falls back to the sampled one when
// the server offers only that. While one answer is decoded and sent, a
// thread of its own fetches the next, so the server never waits for the
// decoding. Memory: two answers at a time (each up to max_reply_bytes),
// plus the batch built.
//
// Positions: segment = the start of a slice (ms since the epoch),
// byte_offset = the selector's index << 40 | the ordinal of the series (as
// the server sends them: sorted by labels) in that request's answer at
// which a batch begins. Resuming asks for the same slice again, skips the
// series before it, and slices from there on, whatever the range's start
// says by then (a relative --start has moved). Samples outside a request's
// own slice are left out, so none is sent by two slices. A series that two
// selectors match is sent by each.
class RemoteReadSource final : public Source {
 public:
  struct Options {
    std::string url;  // http(s)://host:port/api/v1/read
    TimeRange range;  // both ends finite
    // Each selector is a query of its own; none: every series
    // ({__name__=~".+"}).
    std::vector<relabel::Selector> match;
    int64_t slice_ms = 3'600'000;
    std::chrono::nanoseconds timeout = std::chrono::minutes(2);
    net::Headers headers;
    uint64_t max_reply_bytes = 1ull << 30;
    uint64_t batch_samples = 10'000;
    size_t batch_bytes = 1 << 20;
    int attempts = 5;  // per request, for 5xx and connection failures
  };
  static Result<std::unique_ptr<RemoteReadSource>> Open(Options options);
  ~RemoteReadSource() override;

  Status Seek(const log::Position& at) override;
  Result<bool> Next(InputBatch* out) override;
  log::Position position() const override;
  void Interrupt() override;
  uint64_t bytes_read() const override { return bytes_read_; }
  // Progress is measured in requests: "bytes" are requests done × 1 MiB.
  uint64_t total_bytes() const override { return 0; }
  uint64_t skipped_items() const override { return skipped_; }
  // Requests made, and of them answered in the sampled form.
  uint64_t requests() const { return requests_.load(); }
  uint64_t sampled_responses() const { return sampled_.load(); }

 private:
  // One request's answer: the body (the sampled form decompressed) or why
  // there is none.
  struct Answer {
    Status status;
    std::string body;
    bool streamed = false;
    uint64_t wire_bytes = 0;
  };

  RemoteReadSource(Options options, std::unique_ptr<net::HttpClient> client, std::string path);
  // Sends request `index` with retries; on the fetching thread.
  Answer Get(uint64_t index);
  void FetchLoop();
  // The answer to request `index` (asked for now unless it is under way or
  // here), then asks for the one after it.
  Answer Await(uint64_t index);
  // Sets up the decoding of request_'s answer.
  Status Fetch();
  // A sampled answer's next series, into OnSeries.
  Status NextSampledSeries();
  // Slices from `base_ms` on.
  void Rebase(int64_t base_ms);
  int64_t SliceStart(uint64_t request) const;
  log::Position Where(uint64_t request, uint64_t series) const;

  static constexpr int kSelectorShift = 40;
  // The series of the current answer, one at a time.
  void OnSeries(std::span<const wire::prom::LabelView> labels,
                std::span<const wire::prom::Sample> samples);

  const Options options_;
  std::unique_ptr<net::HttpClient> client_;  // the fetching thread's
  const std::string path_;
  // The fetching thread and what it is asked for.
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<uint64_t> wanted_;    // asked for, not taken up yet
  std::optional<uint64_t> fetching_;  // under way
  std::optional<std::pair<uint64_t, Answer>> ready_;
  bool stopping_ = false;
  bool interrupted_ = false;
  std::thread fetcher_;
  std::vector<std::vector<wire::prom::LabelMatcher>> queries_;
  int64_t base_ms_ = 0;  // the first slice's start
  uint64_t slices_ = 0;  // from base_ms_ to the range's end

  uint64_t request_ = 0;       // the current request's index
  bool fetched_ = false;       // its answer is in body_
  uint64_t skip_series_ = 0;   // series of it to skip (a resumed run)
  uint64_t series_ = 0;        // series of it seen so far
  uint64_t batch_series_ = 0;  // the first series of the batch built
  std::string body_;
  std::string_view rest_;         // of body_, not fed yet
  std::string_view series_rest_;  // sampled: of the QueryResult being read
  std::vector<wire::prom::LabelView> sampled_labels_;
  std::vector<wire::prom::Sample> sampled_samples_;
  int64_t slice_start_ms_ = 0;  // of the request being read
  int64_t slice_end_ms_ = 0;
  bool streamed_ = false;
  wire::prom::ChunkedReadDecoder decoder_;
  std::string scratch_;

  SeriesBatcher batcher_;
  relabel::LabelSet labels_;
  uint64_t record_ = 0;
  uint64_t skipped_ = 0;
  uint64_t bytes_read_ = 0;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> sampled_{0};
};

}  // namespace sluice::backfill
