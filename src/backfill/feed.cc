#include "backfill/feed.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "base/units.h"
#include "pipeline/checkpoint.h"

namespace sluice::backfill {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kMagic = "BKF1";

std::string OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kSuccess:
      return "success";
    case Outcome::kPartial:
      return "partial";
    case Outcome::kFailure:
      return "failure";
  }
  return "failure";
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' ? ' ' : c);
  }
  return out + "\"";
}

std::string Number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// 1234567 → "1.23M".
std::string Short(double v) {
  const char* units[] = {"", "k", "M", "G", "T"};
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return Number(v, u == 0 ? 0 : 2) + units[u];
}

std::string Eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  return FormatDuration(std::chrono::seconds(static_cast<int64_t>(seconds + 0.5)));
}

}  // namespace

Snapshot FeedStatus::Take(const pipeline::FedExporter& exporter) const {
  const pipeline::FeedProgress p = exporter.Progress();
  Snapshot s;
  s.items = p.sent_items;
  s.bytes_sent = p.sent_bytes;
  s.retried_items = p.retried_items;
  s.failed_items = p.dead_lettered_items + p.rejected_items;
  s.bytes_read = bytes_read.load();
  s.total_bytes = total_bytes.load();
  return s;
}

ProgressPrinter::ProgressPrinter(std::string command, ProgressOptions options,
                                 std::function<Snapshot()> snapshot, std::ostream& out)
    : command_(std::move(command)),
      options_(options),
      snapshot_(std::move(snapshot)),
      out_(out),
      start_(SteadyClock::now()) {
  if (options_.mode == ProgressOptions::Mode::kQuiet) return;
  thread_ = std::thread([this] { Loop(); });
}

ProgressPrinter::~ProgressPrinter() {
  Stop();
}

void ProgressPrinter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProgressPrinter::Loop() {
  const bool bar = options_.mode == ProgressOptions::Mode::kBar;
  const auto every = bar ? std::chrono::milliseconds(200) : options_.interval;
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, every, [&] { return done_; })) Print(bar);
  if (bar) {
    Print(true);
    out_ << "\n";
    out_.flush();
  }
}

void ProgressPrinter::Print(bool bar) {
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start_).count();
  const Snapshot p = snapshot_();
  const double rate = elapsed > 0 ? static_cast<double>(p.items) / elapsed : 0;
  const double fraction =
      p.total_bytes > 0 ? std::min(1.0, static_cast<double>(p.bytes_read) / p.total_bytes) : -1;
  const double eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : -1;
  if (bar) {
    std::string line = "\r";
    if (fraction >= 0) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(fraction * kWidth);
      line += "[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "] " +
              Number(fraction * 100, 1) + "%  ";
    }
    line += Short(static_cast<double>(p.items)) + " items  " + FormatByteSize(p.bytes_sent) +
            " sent  " + FormatByteSize(p.bytes_read) + " read  " + Short(rate) + " items/s";
    if (fraction >= 0) line += "  ETA " + Eta(eta);
    line += "  retried " + Short(static_cast<double>(p.retried_items)) + "  failed " +
            Short(static_cast<double>(p.failed_items)) + "\x1b[K";
    out_ << line;
  } else {
    out_ << command_ << " progress";
    if (fraction >= 0) out_ << " percent=" << Number(fraction * 100, 1);
    out_ << " items=" << p.items << " bytes_sent=" << p.bytes_sent << " bytes_read=" << p.bytes_read
         << " items_per_second=" << Number(rate, 0);
    if (fraction >= 0) out_ << " eta=" << Eta(eta);
    out_ << " retried_items=" << p.retried_items << " failed_items=" << p.failed_items << "\n";
  }
  out_.flush();
}

std::string FormatSummary(std::string_view command, const Summary& s) {
  std::string out(command);
  out += " result=" + OutcomeName(s.outcome);
  out += " items=" + std::to_string(s.items);
  out += " skipped_items=" + std::to_string(s.skipped_items);
  out += " bytes_read=" + std::to_string(s.bytes_read);
  out += " bytes_sent=" + std::to_string(s.bytes_sent);
  out += " requests=" + std::to_string(s.requests);
  out += " retried_items=" + std::to_string(s.retried_items);
  out += " dead_lettered_items=" + std::to_string(s.dead_lettered_items);
  out += " rejected_items=" + std::to_string(s.rejected_items);
  out += " unsupported_items=" + std::to_string(s.unsupported_items);
  out += " seconds=" + Number(s.seconds, 3);
  out += " items_per_second=" + Number(s.seconds > 0 ? s.items / s.seconds : 0, 0);
  out += std::string(" resumed=") + (s.resumed ? "true" : "false");
  out += " checkpoint=" + std::to_string(s.checkpoint.segment) + ":" +
         std::to_string(s.checkpoint.byte_offset);
  if (!s.reason.empty()) out += " reason=" + Quote(s.reason);
  return out;
}

std::string FailureLine(std::string_view command, std::string_view reason) {
  Summary s;
  s.outcome = Outcome::kFailure;
  s.reason = reason;
  return FormatSummary(command, s);
}

Result<std::optional<Checkpoint::Saved>> Checkpoint::Load() const {
  if (!fs_.Exists(path_)) return std::optional<Saved>();
  SLUICE_ASSIGN_OR_RETURN(std::string file, io::ReadSmallFile(fs_, path_));
  Saved saved;
  int64_t finished = 0;
  std::string_view identity;
  Status st = pipeline::DecodeCheckpoint(kMagic, file, &saved.position, &finished, &identity);
  if (!st.ok()) {
    return Status::Corruption("checkpoint " + path_ + " is damaged (" + st.message() +
                              "): remove it, or start over with --restart");
  }
  if (identity != identity_) {
    return Status::FailedPrecondition(
        "checkpoint " + path_ + " belongs to another command (" + std::string(identity) +
        "): start over with --restart, or name another file with --checkpoint");
  }
  saved.finished = finished != 0;
  return std::optional<Saved>(saved);
}

Status Checkpoint::Save(const log::Position& p, bool finished) {
  SLUICE_RETURN_IF_ERROR(fs_.CreateDirs(io::DirName(path_)));
  return io::WriteFileAtomically(
      fs_, path_, pipeline::EncodeCheckpoint(kMagic, p, finished ? 1 : 0, identity_));
}

Status Checkpoint::Remove() {
  return fs_.Exists(path_) ? fs_.Remove(path_) : Status::Ok();
}

Summary Feed(Source& source,
             const std::vector<std::shared_ptr<const pipeline::Processor>>& processors,
             pipeline::FedExporter& exporter, Checkpoint& checkpoint, bool restart,
             const FeedOptions& options, const std::atomic<bool>& stop, std::ostream& progress_out,
             FeedStatus* status) {
  Summary summary;
  const auto started = SteadyClock::now();
  auto finish = [&](Outcome outcome, std::string reason) {
    const pipeline::FeedProgress p = exporter.Progress();
    summary.items = p.sent_items;
    summary.bytes_sent = p.sent_bytes;
    summary.requests = p.requests;
    summary.retried_items = p.retried_items;
    summary.dead_lettered_items = p.dead_lettered_items;
    summary.rejected_items = p.rejected_items;
    summary.unsupported_items = p.unsupported_items;
    summary.skipped_items = source.skipped_items();
    summary.bytes_read = source.bytes_read();
    summary.seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
    if (outcome == Outcome::kSuccess &&
        (p.dead_lettered_items > 0 || p.rejected_items > 0 || p.unsupported_items > 0)) {
      outcome = Outcome::kPartial;
      reason = std::to_string(p.dead_lettered_items) + " items dead-lettered, " +
               std::to_string(p.rejected_items) + " refused by the destination, " +
               std::to_string(p.unsupported_items) +
               " of a signal or encoding the exporter cannot send";
    }
    summary.outcome = outcome;
    summary.reason = std::move(reason);
    return summary;
  };

  if (restart) {
    Status st = checkpoint.Remove();
    if (!st.ok()) return finish(Outcome::kFailure, st.ToString());
  } else {
    auto saved = checkpoint.Load();
    if (!saved.ok()) return finish(Outcome::kFailure, saved.status().message());
    if (saved->has_value()) {
      summary.resumed = true;
      summary.checkpoint = (*saved)->position;
      if ((*saved)->finished) {
        return finish(Outcome::kSuccess,
                      "");  // already complete: nothing to send (--restart sends it again)
      }
      Status st = source.Seek((*saved)->position);
      if (!st.ok()) return finish(Outcome::kFailure, st.ToString());
    }
  }

  FeedStatus own_status;
  FeedStatus& shared = status != nullptr ? *status : own_status;
  shared.total_bytes = source.total_bytes();
  ProgressPrinter printer(
      options.command, options.progress, [&] { return shared.Take(exporter); }, progress_out);

  InputBatch batch;
  pipeline::Processor::Output processed;
  auto next_checkpoint = SteadyClock::now() + options.checkpoint_interval;
  uint64_t paced = 0;  // items or bytes fed, for --rate
  Outcome outcome = Outcome::kSuccess;
  std::string reason;
  // Past the last batch handed to the exporter (or dropped by a
  // processor): what the source read beyond it was never sent, whatever
  // made the run stop there.
  log::Position taken = source.position();
  auto save = [&](bool finished) {
    summary.checkpoint = exporter.Checkpoint(taken);
    Status st = checkpoint.Save(summary.checkpoint, finished);
    if (!st.ok() && outcome == Outcome::kSuccess) {
      outcome = Outcome::kFailure;
      reason = "cannot save the checkpoint: " + st.ToString();
    }
  };
  for (;;) {
    if (stop.load()) {
      outcome = Outcome::kFailure;
      reason = "interrupted";
      break;
    }
    Result<bool> more = source.Next(&batch);
    shared.bytes_read = source.bytes_read();
    if (!more.ok()) {
      outcome = Outcome::kFailure;
      reason = more.status().message();
      break;
    }
    if (!*more) break;
    // Processors change or drop what is sent; a dropped batch is done.
    bool dropped = false;
    Status refused;
    for (const auto& p : processors) {
      processed = {};
      refused = p->Process({batch.signal, batch.encoding, batch.payload, batch.items, batch.tenant},
                           &processed);
      if (!refused.ok()) break;  // a condition failed under error_mode: propagate
      if (processed.changed) {
        batch.payload.swap(processed.payload);
        batch.items = processed.items;
        if (batch.items == 0) {
          dropped = true;
          break;
        }
      }
    }
    if (!refused.ok()) {
      outcome = Outcome::kFailure;
      reason = "a processor refused a batch: " + refused.message();
      break;
    }
    if (!dropped) {
      if (options.rate > 0) {
        // This batch goes once the ones before it have had their time.
        const auto due = started + std::chrono::duration_cast<SteadyClock::duration>(
                                       std::chrono::duration<double>(paced / options.rate));
        paced += options.rate_bytes ? batch.payload.size() : batch.items;
        while (SteadyClock::now() < due && !stop.load()) {
          std::this_thread::sleep_until(
              std::min(due, SteadyClock::now() + std::chrono::milliseconds(100)));
        }
      }
      log::LogReader::Batch b;
      b.header.item_count = static_cast<uint32_t>(batch.items);
      b.header.signal = batch.signal;
      b.header.encoding = batch.encoding;
      b.header.min_event_unix_nanos = batch.min_event_unix_nanos;
      b.header.max_event_unix_nanos = batch.max_event_unix_nanos;
      b.header.base_offset = batch.start.record_offset;
      b.tenant = batch.tenant;
      b.payload = batch.payload;
      b.next = source.position();
      Status st = exporter.Take(b, batch.start);
      if (!st.ok()) {
        outcome = Outcome::kFailure;
        reason = st.message();
        break;
      }
    }
    taken = source.position();
    if (SteadyClock::now() >= next_checkpoint) {
      // What the exporter holds open goes out, as a live exporter's does
      // when it has caught up: nothing waits longer than an interval.
      exporter.Flush();
      save(false);
      next_checkpoint = SteadyClock::now() + options.checkpoint_interval;
    }
  }
  // Send what is open and wait for the destination, saving as it goes.
  exporter.Flush();
  const bool complete_input = outcome == Outcome::kSuccess;
  while (!exporter.Drain(SteadyClock::now() + options.checkpoint_interval)) {
    if (!exporter.StopReason().empty()) break;
    if (stop.load()) {
      if (outcome == Outcome::kSuccess) {
        outcome = Outcome::kFailure;
        reason = "interrupted";
      }
      break;
    }
    save(false);
  }
  const std::string refused = exporter.StopReason();
  if (!refused.empty()) {
    outcome = Outcome::kFailure;
    reason = refused;
  }
  printer.Stop();
  save(complete_input && outcome == Outcome::kSuccess);
  return finish(outcome, reason);
}

}  // namespace sluice::backfill
