#include "query/tail.h"

#include <algorithm>

namespace sluice::query {
namespace {

constexpr int64_t kKeepAliveEvery = 15'000'000'000;

}  // namespace

LogTail::LogTail(telemetry::Registry& metrics, size_t max_clients)
    : max_clients_(max_clients),
      dropped_(metrics
                   .AddCounter("sluice_query_tail_dropped_total",
                               "Log records a live tail client lost because it read its stream "
                               "too slowly.")
                   .Get()),
      open_(metrics.AddGauge("sluice_query_tail_clients", "Live tail streams open.").Get()) {}

LogTail::~LogTail() {
  CloseAll();
}

std::shared_ptr<net::ResponseStream> LogTail::Open(LogQuery filter) {
  MutexLock lock(mu_);
  Prune();
  if (clients_.size() >= max_clients_) return nullptr;
  auto stream = std::make_shared<net::ResponseStream>();
  clients_.push_back(Client{std::move(filter), stream, 0});
  count_.store(clients_.size());
  open_.Set(static_cast<int64_t>(clients_.size()));
  return stream;
}

void LogTail::Send(Client& c, std::string event) {
  if (c.dropped > 0) {
    if (c.stream->Push("event: dropped\ndata: " + std::to_string(c.dropped) + "\n\n") !=
        net::ResponseStream::PushResult::kQueued) {
      ++c.dropped;
      dropped_.Inc();
      return;
    }
    c.dropped = 0;
  }
  if (c.stream->Push(std::move(event)) == net::ResponseStream::PushResult::kFull) {
    ++c.dropped;
    dropped_.Inc();
  }
}

void LogTail::Offer(const log::LogReader::Batch& batch) {
  if (count_.load(std::memory_order_relaxed) == 0) return;
  if (batch.header.signal != log::Signal::kLogs ||
      batch.header.encoding != log::Encoding::kOtlpProto) {
    return;
  }
  MutexLock lock(mu_);
  Prune();
  std::vector<Client*> admitted;
  for (Client& c : clients_) {
    if (c.filter.scope.Admits(batch.tenant)) admitted.push_back(&c);
  }
  if (admitted.empty()) return;
  ForEachLogRecord(batch.payload, [&](const LogRecordRef& r) {
    std::string event;
    for (Client* c : admitted) {
      if (!LogMatches(c->filter, r)) continue;
      if (event.empty()) {
        event = "data: ";
        AppendLogRecordJson(event, r);  // JSON holds no raw newline
        event += "\n\n";
      }
      Send(*c, event);
    }
  });
}

void LogTail::KeepAlive(int64_t now) {
  if (count_.load(std::memory_order_relaxed) == 0) return;
  MutexLock lock(mu_);
  if (now - last_keep_alive_ < kKeepAliveEvery) return;
  last_keep_alive_ = now;
  for (Client& c : clients_) c.stream->Push(": keep-alive\n\n");
  Prune();
}

void LogTail::CloseAll() {
  MutexLock lock(mu_);
  for (Client& c : clients_) c.stream->Close();
  clients_.clear();
  count_.store(0);
  open_.Set(0);
}

void LogTail::Prune() {
  std::erase_if(clients_, [](const Client& c) { return c.stream->gone(); });
  count_.store(clients_.size());
  open_.Set(static_cast<int64_t>(clients_.size()));
}

}  // namespace sluice::query
