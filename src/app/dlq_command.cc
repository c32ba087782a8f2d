#include "app/dlq_command.h"

#include <ctime>
#include <iostream>
#include <thread>

#include "exporters/common/dead_letter.h"
#include "io/file_system.h"

namespace sluice::app {
namespace {

std::string FormatTime(int64_t unix_nanos) {
  std::time_t secs = static_cast<std::time_t>(unix_nanos / 1'000'000'000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::unique_ptr<exporters::DeadLetterQueue>> OpenQueue(const pipeline::ServiceConfig& cfg,
                                                              const std::string& exporter) {
  return exporters::DeadLetterQueue::Open(
      io::FileSystem::Posix(),
      exporters::DeadLetterQueue::DirectoryFor(cfg.storage.directory, exporter), exporter,
      UINT64_MAX, nullptr);
}

int List(const pipeline::ServiceConfig& cfg, const std::string& only, std::ostream& out,
         std::ostream& err) {
  out << "EXPORTER\tID\tTIME\tSIGNAL\tITEMS\tBYTES\tREASON\n";
  int rc = 0;
  for (const auto& e : cfg.exporters) {
    if (!only.empty() && e.id != only) continue;
    if (!e.type->create_sender) continue;  // keeps no dead letters
    auto q = OpenQueue(cfg, e.id);
    if (!q.ok()) {
      err << "dlq: " << e.id << ": " << q.status().message() << "\n";
      rc = 1;
      continue;
    }
    auto entries = (*q)->List();
    if (!entries.ok()) {
      err << "dlq: " << e.id << ": " << entries.status().message() << "\n";
      rc = 1;
      continue;
    }
    for (const auto& entry : *entries) {
      out << e.id << "\t" << entry.id << "\t" << FormatTime(entry.unix_nanos) << "\t"
          << log::SignalName(entry.signal) << "\t" << entry.items << "\t" << entry.bytes << "\t"
          << (entry.tenant.empty() ? "-" : entry.tenant) << "\t" << entry.reason << "\n";
    }
  }
  return rc;
}

int Replay(const pipeline::ServiceConfig& cfg, const pipeline::ComponentConfig& e,
           std::ostream& out, std::ostream& err) {
  auto q = OpenQueue(cfg, e.id);
  if (!q.ok()) {
    err << "dlq: " << q.status().message() << "\n";
    return 1;
  }
  auto entries = (*q)->List();
  if (!entries.ok()) {
    err << "dlq: " << entries.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<pipeline::Sender> sender = e.type->create_sender(e.options.get());
  uint64_t replayed = 0;
  uint64_t kept = 0;
  for (const auto& entry : *entries) {
    auto request = (*q)->Read(entry.id);
    if (!request.ok()) {
      err << "dlq: entry " << entry.id << " kept: " << request.status().message() << "\n";
      ++kept;
      continue;
    }
    pipeline::SendResult result;
    // A destination that is briefly unavailable gets a few chances.
    for (int attempt = 0; attempt < 4; ++attempt) {
      result = sender->Send(*request);
      if (result.kind != pipeline::SendResult::Kind::kRetryable) break;
      auto wait =
          result.retry_after.count() >= 0
              ? std::min<std::chrono::milliseconds>(result.retry_after, std::chrono::seconds(30))
              : std::chrono::milliseconds(500 << attempt);
      std::this_thread::sleep_for(wait);
    }
    if (result.ok()) {
      Status st = (*q)->Remove(entry.id);
      if (!st.ok()) {
        err << "dlq: entry " << entry.id << " sent but not removed: " << st.message() << "\n";
        return 1;
      }
      ++replayed;
      continue;
    }
    if (result.kind == pipeline::SendResult::Kind::kRetryable) {
      err << "dlq: destination unavailable, stopping: " << result.reason << "\n";
      out << "replayed " << replayed << ", left " << (entries->size() - replayed) << "\n";
      return 1;
    }
    err << "dlq: entry " << entry.id << " refused again, kept: " << result.reason << "\n";
    ++kept;
  }
  out << "replayed " << replayed << ", kept " << kept << "\n";
  return kept == 0 ? 0 : 1;
}

}  // namespace

int RunDlqCommand(const std::string& action, const pipeline::ServiceConfig& cfg,
                  const std::string& exporter, std::ostream& out, std::ostream& err) {
  if (action == "list") return List(cfg, exporter, out, err);
  if (exporter.empty()) {
    err << "dlq " << action << ": --exporter is required\n";
    return 2;
  }
  const pipeline::ComponentConfig* e = cfg.Find(pipeline::Kind::kExporter, exporter);
  if (e == nullptr) {
    err << "dlq: no exporter \"" << exporter << "\" in the configuration\n";
    return 2;
  }
  if (!e->type->create_sender) {
    err << "dlq: exporter \"" << exporter << "\" (" << e->type->type << ") keeps no dead letters\n";
    return 2;
  }
  if (action == "replay") return Replay(cfg, *e, out, err);
  if (action == "purge") {
    auto q = OpenQueue(cfg, e->id);
    if (!q.ok()) {
      err << "dlq: " << q.status().message() << "\n";
      return 1;
    }
    auto n = (*q)->Purge();
    if (!n.ok()) {
      err << "dlq: " << n.status().message() << "\n";
      return 1;
    }
    out << "purged " << *n << "\n";
    return 0;
  }
  err << "dlq: unknown action \"" << action << "\" (list, replay, purge)\n";
  return 2;
}

}  // namespace sluice::app
