// The log against the disk it runs on, measured in one run:
//   raw     sequential O_DIRECT writes of 1 MiB blocks (the reference),
//           measured before and after every append run
//   append  1 KiB and 64 KiB batches under each fsync policy, 64 to 16384
//           appends in flight (as concurrent receivers keep them; the log
//           queues up to 64 MiB; 16384 of 1 KiB and 256 of 64 KiB are both
//           16 MiB), as MB/s and % of the raw write around it
//   recover time to reopen the log (tail scan) per GiB held
//   replay  LogReader over the whole log from the page cache, GiB/s
//   rss     peak resident memory of this process (writer + reader) while
//           writing and replaying
//
// Usage: log_throughput [--dir DIR] [--gib N] [--only POLICY] [--segment-mib N]
//   --dir          where the log is written (default: $TMPDIR)
//   --gib          size of the log for recovery, replay and memory (default 4)
//   --only         run only the append cases of one policy (never|interval|always)
//   --segment-mib  storage.segment_bytes in MiB (default 64, the product default)

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

#include "log/log.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMiB = 1024.0 * 1024.0;
constexpr double kGiB = kMiB * 1024.0;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

long ProcStatusKiB(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return -1;
}

// Sequential O_DIRECT writes of 1 MiB: what the disk takes without the page cache.
double RawWriteMBps(const std::string& dir, uint64_t bytes) {
  std::string path = dir + "/raw.bin";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  bool direct = fd >= 0;
  if (!direct) fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // From a 2 MiB page, as the log's own staging buffers are: an O_DIRECT
  // write from 4 KiB pages is slower on some devices, and the reference is
  // the best the disk does.
  void* block = nullptr;
  if (posix_memalign(&block, 2 << 20, 2 << 20) != 0) std::abort();
  ::madvise(block, 2 << 20, MADV_HUGEPAGE);
  std::memset(block, 'r', 1 << 20);
  auto t0 = Clock::now();
  for (uint64_t done = 0; done < bytes; done += 1 << 20) {
    if (::write(fd, block, 1 << 20) != (1 << 20)) {
      std::perror("raw write");
      std::exit(1);
    }
  }
  ::fdatasync(fd);
  double s = Seconds(t0);
  ::close(fd);
  std::free(block);
  std::filesystem::remove(path);
  if (!direct) std::printf("  (O_DIRECT unsupported here; raw is buffered write + fdatasync)\n");
  return bytes / kMiB / s;
}

// Keeps `in_flight` appends outstanding. The producer sleeps only when the
// window is full and is woken when half of it has drained, so the harness
// costs one wake-up per in_flight/2 appends rather than one per append.
struct InFlight {
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> n{0};
  std::atomic<bool> waiting{false};
  std::atomic<uint64_t> failed{0};
};

double AppendMBps(sluice::log::Log& log, size_t batch, uint64_t bytes, int in_flight = 64) {
  InFlight f;
  std::string payload(batch, 'p');
  const int low = in_flight / 2;
  auto done = [&f, low](sluice::Result<sluice::log::AppendResult> res) {
    if (!res.ok() && f.failed++ == 0) {
      std::printf("  first failed append: %s\n", res.status().ToString().c_str());
    }
    if (f.n.fetch_sub(1) - 1 <= low && f.waiting.load()) {
      std::lock_guard<std::mutex> lock(f.mu);
      f.cv.notify_one();
    }
  };
  auto t0 = Clock::now();
  for (uint64_t sent = 0; sent < bytes; sent += batch) {
    if (f.n.load() >= in_flight) {
      std::unique_lock<std::mutex> lock(f.mu);
      f.waiting = true;
      f.cv.wait_for(lock, std::chrono::milliseconds(1), [&] { return f.n.load() <= low; });
      f.waiting = false;
    }
    f.n.fetch_add(1);
    sluice::log::AppendRequest r;
    r.payload = payload;
    r.item_count = static_cast<uint32_t>(batch / 256);
    log.AppendAsync(std::move(r), done);
  }
  while (f.n.load() > 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
  double s = Seconds(t0);
  if (f.failed > 0) std::printf("  %llu appends failed\n", (unsigned long long)f.failed.load());
  return bytes / kMiB / s;
}

uint64_t segment_bytes = 0;  // 0: the product default

sluice::log::LogOptions Options(const std::string& dir, sluice::log::FsyncPolicy policy) {
  sluice::log::LogOptions o;
  if (segment_bytes != 0) o.segment_bytes = segment_bytes;
  o.directory = dir;
  o.fsync = policy;
  o.retention.max_bytes = 64ull << 30;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = std::filesystem::temp_directory_path().string();
  double gib = 4;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--dir") base = argv[i + 1];
    if (flag == "--gib") gib = std::atof(argv[i + 1]);
    if (flag == "--only") only = argv[i + 1];
    if (flag == "--segment-mib") segment_bytes = std::strtoull(argv[i + 1], nullptr, 10) << 20;
  }
  std::string dir = base + "/sluice-log-throughput";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  uint64_t total = static_cast<uint64_t>(gib * kGiB);
  sluice::telemetry::Registry registry;
  auto& fs = sluice::io::FileSystem::Posix();
  auto& clock = sluice::Clock::Real();

  // The disk's speed drifts from second to second, so each append case is
  // run three times, each run between two raw measurements, and compared
  // with the mean of the two around it; the median of the three ratios is
  // printed.
  const uint64_t raw_bytes = 256ull << 20;
  double raw = RawWriteMBps(dir, raw_bytes);
  std::printf("raw O_DIRECT sequential write, 1 MiB blocks: %.0f MB/s at start (the reference)\n\n",
              raw);

  struct Case {
    const char* name;
    sluice::log::FsyncPolicy policy;
    size_t batch;
    uint64_t bytes;
    int in_flight;
  };
  const uint64_t gib1 = 1ull << 30;
  const Case cases[] = {
      {"never   ", sluice::log::FsyncPolicy::kNever, 1024, gib1 / 4, 64},
      {"never   ", sluice::log::FsyncPolicy::kNever, 1024, gib1 / 2, 16384},
      {"never   ", sluice::log::FsyncPolicy::kNever, 64 * 1024, gib1 / 2, 64},
      {"never   ", sluice::log::FsyncPolicy::kNever, 64 * 1024, gib1 / 2, 256},
      {"interval", sluice::log::FsyncPolicy::kInterval, 1024, gib1 / 4, 64},
      {"interval", sluice::log::FsyncPolicy::kInterval, 1024, gib1 / 4, 1024},
      {"interval", sluice::log::FsyncPolicy::kInterval, 1024, gib1 / 2, 16384},
      {"interval", sluice::log::FsyncPolicy::kInterval, 64 * 1024, gib1 / 2, 64},
      {"interval", sluice::log::FsyncPolicy::kInterval, 64 * 1024, gib1 / 2, 256},
      {"always  ", sluice::log::FsyncPolicy::kAlways, 1024, 64ull << 20, 64},
      {"always  ", sluice::log::FsyncPolicy::kAlways, 1024, gib1 / 4, 16384},
      {"always  ", sluice::log::FsyncPolicy::kAlways, 64 * 1024, gib1 / 4, 64},
  };
  std::printf(
      "append                 batch  in flight     MB/s   %% of raw   batches/s   (raw around "
      "the median run)\n");
  for (const Case& c : cases) {
    if (!only.empty() && std::string(c.name).rfind(only, 0) != 0) continue;
    struct Run {
      double mbps;
      double ratio;
      double raw;
    } runs[3];
    for (Run& run : runs) {
      std::string d = dir + "/append";
      std::filesystem::remove_all(d);
      auto log = sluice::log::Log::Open(Options(d, c.policy), fs, clock, registry);
      if (!log.ok()) return 1;
      double before = raw;
      run.mbps = AppendMBps(**log, c.batch, c.bytes, c.in_flight);
      (*log)->Close().IgnoreError();
      std::filesystem::remove_all(d);
      raw = RawWriteMBps(dir, raw_bytes);
      run.raw = (before + raw) / 2;
      run.ratio = run.mbps / run.raw;
    }
    std::sort(runs, runs + 3, [](const Run& a, const Run& b) { return a.ratio < b.ratio; });
    const Run& m = runs[1];
    std::printf("fsync %s   %6zu KiB  %9d  %7.0f   %6.0f%%   %9.0f   (%.0f MB/s)\n", c.name,
                c.batch / 1024, c.in_flight, m.mbps, 100 * m.ratio, m.mbps * kMiB / c.batch, m.raw);
  }

  // A large log for recovery, replay and memory.
  std::string d = dir + "/big";
  std::filesystem::remove_all(d);
  {
    auto log = sluice::log::Log::Open(Options(d, sluice::log::FsyncPolicy::kInterval), fs, clock,
                                      registry);
    if (!log.ok()) return 1;
    double mbps = AppendMBps(**log, 64 * 1024, total);
    std::printf("\nwrote a %.1f GiB log at %.0f MB/s; peak RSS so far %ld KiB\n", total / kGiB,
                mbps, ProcStatusKiB("VmHWM:"));
    (*log)->Close().IgnoreError();
  }
  auto t0 = Clock::now();
  auto log =
      sluice::log::Log::Open(Options(d, sluice::log::FsyncPolicy::kInterval), fs, clock, registry);
  double recover = Seconds(t0);
  if (!log.ok()) return 1;
  std::printf("recovery (reopen): %.3f s for %.1f GiB = %.3f s/GiB (target <= 1)\n", recover,
              total / kGiB, recover / (total / kGiB));

  long rss_before = ProcStatusKiB("VmRSS:");
  long rss_peak_during = 0;
  // Segments are written around the page cache, so the first pass reads the
  // disk and the second reads the page cache.
  for (const char* pass : {"from disk (first pass)", "from page cache (second pass)"}) {
    sluice::log::LogReader reader(**log, (*log)->Begin());
    uint64_t bytes = 0;
    uint64_t batches = 0;
    t0 = Clock::now();
    while (true) {
      auto b = reader.Next();
      if (!b.ok()) break;
      bytes += b->payload.size();
      if (++batches % 4096 == 0) {
        rss_peak_during = std::max(rss_peak_during, ProcStatusKiB("VmRSS:"));
      }
    }
    double s = Seconds(t0);
    std::printf("replay %s: %.2f GiB/s (%llu batches; target >= 1 GiB/s from page cache)\n", pass,
                bytes / kGiB / s, (unsigned long long)batches);
  }
  std::printf(
      "RSS: before replay %ld KiB, during replay up to %ld KiB, process peak %ld KiB "
      "(target < 65536 KiB)\n",
      rss_before, rss_peak_during, ProcStatusKiB("VmHWM:"));
  (*log)->Close().IgnoreError();
  std::filesystem::remove_all(dir);
  return 0;
}
