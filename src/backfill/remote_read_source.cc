#include "backfill/remote_read_source.h"

#include <thread>

#include "wire/compression.h"
#include "wire/proto_reader.h"

namespace sluice::backfill {
namespace {

constexpr size_t kPieceBytes = 256 << 10;

wire::prom::LabelMatcher::Type TypeOf(relabel::Selector::Matcher::Op op) {
  using Op = relabel::Selector::Matcher::Op;
  using Type = wire::prom::LabelMatcher::Type;
  switch (op) {
    case Op::kEqual:
      return Type::kEq;
    case Op::kNotEqual:
      return Type::kNeq;
    case Op::kRegex:
      return Type::kRe;
    case Op::kNotRegex:
      return Type::kNre;
  }
  return Type::kEq;
}

}  // namespace

Result<std::unique_ptr<RemoteReadSource>> RemoteReadSource::Open(Options options) {
  if (options.range.start_ms == INT64_MIN || options.range.end_ms == INT64_MAX) {
    return Status::InvalidArgument("a remote read needs a start and an end time");
  }
  std::string path;
  SLUICE_ASSIGN_OR_RETURN(
      std::unique_ptr<net::HttpClient> client,
      net::HttpClient::ForUrl(options.url, options.timeout, options.headers, &path));
  client->SetMaxReplyBytes(options.max_reply_bytes);
  return std::unique_ptr<RemoteReadSource>(
      new RemoteReadSource(std::move(options), std::move(client), std::move(path)));
}

RemoteReadSource::RemoteReadSource(Options options, std::unique_ptr<net::HttpClient> client,
                                   std::string path)
    : options_(std::move(options)),
      client_(std::move(client)),
      path_(std::move(path)),
      batcher_(options_.batch_samples, options_.batch_bytes) {
  if (options_.match.empty()) {
    queries_.push_back({{wire::prom::LabelMatcher::Type::kRe, "__name__", ".+"}});
  }
  for (const relabel::Selector& s : options_.match) {
    std::vector<wire::prom::LabelMatcher> q;
    for (const auto& m : s.matchers()) q.push_back({TypeOf(m.op), m.name, m.value});
    queries_.push_back(std::move(q));
  }
  Rebase(options_.range.start_ms);
}

void RemoteReadSource::Rebase(int64_t base_ms) {
  base_ms_ = base_ms;
  slices_ = base_ms_ > options_.range.end_ms
                ? 0
                : static_cast<uint64_t>((options_.range.end_ms - base_ms_) / options_.slice_ms) + 1;
}

int64_t RemoteReadSource::SliceStart(uint64_t request) const {
  return base_ms_ + static_cast<int64_t>(request / queries_.size()) * options_.slice_ms;
}

Status RemoteReadSource::Seek(const log::Position& at) {
  // Slices start again at the checkpoint's, whatever --start says now (a
  // relative one has moved since).
  Rebase(static_cast<int64_t>(at.segment));
  request_ = std::min<uint64_t>(at.byte_offset >> kSelectorShift, queries_.size() - 1);
  skip_series_ = at.byte_offset & ((uint64_t{1} << kSelectorShift) - 1);
  fetched_ = false;
  return Status::Ok();
}

log::Position RemoteReadSource::Where(uint64_t request, uint64_t series) const {
  return {static_cast<uint64_t>(SliceStart(request)),
          (request % queries_.size()) << kSelectorShift | series, record_};
}

log::Position RemoteReadSource::position() const {
  // Between batches: the next series of the current request.
  return Where(request_, fetched_ ? series_ : skip_series_);
}

void RemoteReadSource::Interrupt() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    interrupted_ = true;
  }
  cv_.notify_all();
}

RemoteReadSource::~RemoteReadSource() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (fetcher_.joinable()) fetcher_.join();
}

RemoteReadSource::Answer RemoteReadSource::Get(uint64_t index) {
  const auto& query = queries_[index % queries_.size()];
  const int64_t start = SliceStart(index);
  const int64_t end = std::min(options_.range.end_ms, start + options_.slice_ms - 1);
  std::string request;
  wire::prom::EncodeReadRequest(
      start, end, query, wire::prom::AcceptedResponses::kStreamedXorChunksOrSamples, &request);
  const std::string compressed = wire::Compress(wire::Compression::kSnappyBlock, request);
  const net::Headers headers = {
      {"Content-Type", "application/x-protobuf"},
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Read-Version", std::string(wire::prom::kRemoteReadVersion)},
  };
  Answer answer;
  Status last;
  for (int attempt = 0; attempt < options_.attempts; ++attempt) {
    if (attempt > 0) {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(500 << attempt),
                       [&] { return interrupted_ || stopping_; })) {
        answer.status = Status::Unavailable("interrupted");
        return answer;
      }
    }
    Result<net::HttpReply> reply = client_->Post(path_, compressed, headers);
    ++requests_;
    if (!reply.ok()) {
      last = reply.status();
      continue;
    }
    if (reply->status >= 500 || reply->status == 429) {
      last = Status::Unavailable("HTTP " + std::to_string(reply->status) + ": " +
                                 reply->body.substr(0, 256));
      continue;
    }
    if (reply->status != 200) {
      answer.status = Status::InvalidArgument("remote read " + options_.url + " answered HTTP " +
                                              std::to_string(reply->status) + ": " +
                                              reply->body.substr(0, 512));
      return answer;
    }
    answer.wire_bytes = reply->body.size();
    if (wire::prom::ReadResponseKindOf(reply->content_type) ==
        wire::prom::ReadResponseKind::kStreamed) {
      answer.streamed = true;
      answer.body = std::move(reply->body);
    } else {
      // Sampled: a snappy block of the whole answer.
      ++sampled_;
      std::string_view plain;
      answer.status =
          wire::SnappyDecompressInto(reply->body, options_.max_reply_bytes * 4, &scratch_, &plain);
      if (answer.status.ok()) answer.body.assign(plain);
      wire::ReleaseLargeScratch(&scratch_);
    }
    return answer;
  }
  answer.status =
      Status::Unavailable("remote read " + options_.url + " failed " +
                          std::to_string(options_.attempts) + " times: " + last.message());
  return answer;
}

void RemoteReadSource::FetchLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || wanted_.has_value(); });
    if (stopping_) return;
    const uint64_t index = *wanted_;
    wanted_.reset();
    fetching_ = index;
    lock.unlock();
    Answer answer = Get(index);
    lock.lock();
    fetching_.reset();
    ready_.emplace(index, std::move(answer));
    cv_.notify_all();
  }
}

RemoteReadSource::Answer RemoteReadSource::Await(uint64_t index) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!fetcher_.joinable()) fetcher_ = std::thread([this] { FetchLoop(); });
  const bool here = ready_ && ready_->first == index;
  if (!here && wanted_ != index && fetching_ != index) {
    ready_.reset();  // an answer to another request (after a Seek)
    wanted_ = index;
    cv_.notify_all();
  }
  cv_.wait(lock, [&] { return interrupted_ || (ready_ && ready_->first == index); });
  if (!(ready_ && ready_->first == index)) {
    Answer answer;
    answer.status = Status::Unavailable("interrupted");
    return answer;
  }
  Answer answer = std::move(ready_->second);
  ready_.reset();
  if (index + 1 < slices_ * queries_.size()) {
    wanted_ = index + 1;
    cv_.notify_all();
  }
  return answer;
}

Status RemoteReadSource::Fetch() {
  Answer answer = Await(request_);
  SLUICE_RETURN_IF_ERROR(answer.status);
  bytes_read_ += answer.wire_bytes;
  series_ = 0;
  batch_series_ = 0;
  slice_start_ms_ = SliceStart(request_);
  slice_end_ms_ = std::min(options_.range.end_ms, slice_start_ms_ + options_.slice_ms - 1);
  streamed_ = answer.streamed;
  body_ = std::move(answer.body);
  rest_ = body_;
  series_rest_ = {};
  if (streamed_) decoder_.Reset();
  fetched_ = true;
  return Status::Ok();
}

Status RemoteReadSource::NextSampledSeries() {
  // ReadResponse.results (1) → QueryResult.timeseries (1), walked one
  // series a call so that a batch ends wherever it fills.
  while (series_rest_.empty() && !rest_.empty()) {
    wire::ProtoReader response(rest_);
    if (!response.Next()) {
      return Status::InvalidArgument(std::string("malformed ReadResponse: ") +
                                     (response.error() ? response.error() : "truncated"));
    }
    rest_.remove_prefix(response.raw_field().size());
    if (response.field() == wire::prom::field::kReadResults &&
        response.Is(wire::WireType::kLengthDelimited)) {
      series_rest_ = response.bytes();
    }
  }
  while (!series_rest_.empty()) {
    wire::ProtoReader result(series_rest_);
    if (!result.Next()) {
      return Status::InvalidArgument(std::string("malformed QueryResult: ") +
                                     (result.error() ? result.error() : "truncated"));
    }
    series_rest_.remove_prefix(result.raw_field().size());
    if (result.field() != wire::prom::field::kResultTimeseries ||
        !result.Is(wire::WireType::kLengthDelimited)) {
      continue;
    }
    SLUICE_RETURN_IF_ERROR(wire::prom::internal::DecodeTimeSeries(result.bytes(), &sampled_labels_,
                                                                  &sampled_samples_));
    OnSeries(sampled_labels_, sampled_samples_);
    return Status::Ok();
  }
  return Status::Ok();
}

void RemoteReadSource::OnSeries(std::span<const wire::prom::LabelView> labels,
                                std::span<const wire::prom::Sample> samples) {
  const uint64_t ordinal = series_++;
  if (ordinal < skip_series_) return;
  labels_.Clear();
  for (const auto& l : labels) labels_.Add(l.name, l.value);
  labels_.Sort();
  batcher_.BeginSeries(labels_);
  for (const auto& s : samples) {
    // The request's own slice: a server that answers whole chunks past its
    // ends would otherwise have a sample sent twice, by two slices.
    if (s.timestamp_ms < slice_start_ms_ || s.timestamp_ms > slice_end_ms_) {
      ++skipped_;
      continue;
    }
    batcher_.AddSample(s.timestamp_ms, s.value);
  }
  batcher_.EndSeries();
}

Result<bool> RemoteReadSource::Next(InputBatch* out) {
  const uint64_t total = slices_ * queries_.size();
  while (request_ < total) {
    if (!fetched_) SLUICE_RETURN_IF_ERROR(Fetch());
    auto on_series = [this](std::span<const wire::prom::LabelView> l,
                            std::span<const wire::prom::Sample> s) { OnSeries(l, s); };
    if (batcher_.empty()) batch_series_ = std::max(series_, skip_series_);
    if (streamed_) {
      while (!rest_.empty() && !batcher_.Full()) {
        const size_t n = std::min(rest_.size(), kPieceBytes);
        Status st = decoder_.Feed(rest_.substr(0, n), on_series);
        rest_.remove_prefix(n);
        if (!st.ok())
          return Status::InvalidArgument("remote read " + options_.url + ": " + st.message());
      }
      if (rest_.empty()) {
        Status st = decoder_.Finish();
        if (!st.ok())
          return Status::InvalidArgument("remote read " + options_.url + ": " + st.message());
      }
    } else {
      while ((!rest_.empty() || !series_rest_.empty()) && !batcher_.Full()) {
        Status st = NextSampledSeries();
        if (!st.ok()) {
          return Status::InvalidArgument("remote read " + options_.url + ": " + st.message());
        }
      }
    }
    const log::Position start = Where(request_, batch_series_);
    if (rest_.empty() && series_rest_.empty()) {
      // This request is done; the next batch begins with the next one.
      ++request_;
      fetched_ = false;
      skip_series_ = 0;
      std::string().swap(body_);
      if (batcher_.empty()) continue;
    } else if (!batcher_.Full()) {
      continue;
    }
    batcher_.Take(out);
    out->start = start;
    record_ += out->items;
    return true;
  }
  return false;
}

}  // namespace sluice::backfill
