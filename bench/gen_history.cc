// History files for the backfill benchmark (bench/backfill.sh):
//
//   gen_history --samples N --out FILE [--series S] [--step SECONDS]
//               [--end UNIX_SECONDS]
//
// Writes an OpenMetrics file of exactly N samples with timestamps, in the
// shape of a node exporter's history: six metric families (counters and
// gauges, each with its # HELP and # TYPE lines) of `host` and `region`
// labels and one or two of their own, S series (default N / 100, at least 1
// and at most 10,000) spread evenly over the families, each series' samples
// consecutive and `step` seconds apart (default 15), its last sample at
// `end` (default a day ago) less the series' own scrape offset (0 to one
// step, in milliseconds); `# EOF` at the end. Counters grow by varying
// amounts, gauges vary.
//
// Prints "samples=N series=S first_ms=T0 last_ms=T1 bytes=B" on stdout.
// Values are printed from integers (fixed point), so the file is written
// at about the speed of the disk's cache.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

// A write(2) buffer flushed every 4 MiB.
class Output {
 public:
  explicit Output(int fd) : fd_(fd) { buf_.reserve(kFlushBytes + 4096); }
  void Append(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kFlushBytes) Flush();
  }
  void AppendUnsigned(uint64_t v) {
    char tmp[24];
    const auto [end, ec] = std::to_chars(tmp, tmp + sizeof tmp, v);
    buf_.append(tmp, end);
  }
  // v / 10^decimals with exactly `decimals` digits after the point.
  void AppendFixed(uint64_t v, int decimals) {
    uint64_t scale = 1;
    for (int i = 0; i < decimals; ++i) scale *= 10;
    AppendUnsigned(v / scale);
    buf_.push_back('.');
    char digits[20];
    uint64_t frac = v % scale;
    for (int i = decimals - 1; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    buf_.append(digits, static_cast<size_t>(decimals));
  }
  void Push(char c) { buf_.push_back(c); }
  // False when a write failed (errno tells why).
  bool Flush() {
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        ok_ = false;
        break;
      }
      done += static_cast<size_t>(n);
    }
    written_ += done;
    buf_.clear();
    return ok_;
  }
  bool ok() const { return ok_; }
  uint64_t written() const { return written_; }

 private:
  static constexpr size_t kFlushBytes = 4 << 20;
  const int fd_;
  std::string buf_;
  uint64_t written_ = 0;
  bool ok_ = true;
};

// splitmix64: a cheap, well-mixed sequence for values and offsets.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

enum class Kind { kCounter, kGauge };

// A family, and how its series' values move: counters grow by about
// `rate` per sample, gauges wander around `base` by up to `swing`. Values
// are integers of 10^-decimals.
struct Family {
  const char* name;  // the family's name; counters' samples add _total
  const char* help;
  Kind kind;
  int decimals;
  uint64_t base;
  uint64_t rate_or_swing;
};

constexpr Family kFamilies[] = {
    {"node_cpu_seconds", "Seconds the CPUs spent in each mode.", Kind::kCounter, 2, 100000000,
     1200},
    {"node_memory_MemAvailable_bytes", "Memory information field MemAvailable_bytes.", Kind::kGauge,
     0, 12000000000, 2000000000},
    {"node_network_receive_bytes", "Network device statistic receive_bytes.", Kind::kCounter, 0,
     500000000000, 1500000},
    {"http_requests", "Requests served, by method and status code.", Kind::kCounter, 0, 1000000,
     300},
    {"node_load1", "1m load average.", Kind::kGauge, 2, 150, 120},
    {"process_open_fds", "Number of open file descriptors.", Kind::kGauge, 0, 400, 150},
};
constexpr int kFamilyCount = sizeof kFamilies / sizeof kFamilies[0];

constexpr const char* kRegions[] = {"eu-west-1", "eu-central-1", "us-east-1",
                                    "us-west-2", "ap-south-1",   "ap-northeast-1"};
constexpr const char* kModes[] = {"idle", "user", "system", "iowait", "steal"};
constexpr const char* kMethods[] = {"GET", "POST"};
constexpr const char* kCodes[] = {"200", "404", "500"};

// The series line prefix: sample name, labels and the space before the
// value. `r` numbers the series within its family; label sets are unique.
std::string SeriesPrefix(int family, uint64_t r) {
  const Family& f = kFamilies[family];
  uint64_t host = r;
  std::string extra;
  switch (family) {
    case 0:  // 8 CPUs × 5 modes per host
      host = r / 40;
      extra = ",cpu=\"" + std::to_string(r / 5 % 8) + "\",mode=\"" + kModes[r % 5] + "\"";
      break;
    case 2:  // 2 devices per host
      host = r / 2;
      extra = std::string(",device=\"eth") + static_cast<char>('0' + r % 2) + "\"";
      break;
    case 3:  // 2 methods × 3 codes per host
      host = r / 6;
      extra = std::string(",method=\"") + kMethods[r % 2] + "\",code=\"" + kCodes[r / 2 % 3] + "\"";
      break;
    default:
      break;
  }
  char host_name[32];
  std::snprintf(host_name, sizeof host_name, "host-%05llu", static_cast<unsigned long long>(host));
  std::string s = f.name;
  if (f.kind == Kind::kCounter) s += "_total";
  s += "{host=\"";
  s += host_name;
  s += "\",region=\"";
  s += kRegions[host % 6];
  s += "\"";
  s += extra;
  s += "} ";
  return s;
}

void Usage() {
  std::fprintf(stderr,
               "usage: gen_history --samples N --out FILE [--series S] [--step SECONDS] "
               "[--end UNIX_SECONDS]\n");
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t samples = 0, series = 0;
  double step_s = 15;
  double end_s = static_cast<double>(std::time(nullptr)) - 86400;
  const char* out_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--samples") && has_value) {
      samples = std::strtoull(argv[++i], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--series") && has_value) {
      series = std::strtoull(argv[++i], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--step") && has_value) {
      step_s = std::strtod(argv[++i], nullptr);
    } else if (!std::strcmp(argv[i], "--end") && has_value) {
      end_s = std::strtod(argv[++i], nullptr);
    } else if (!std::strcmp(argv[i], "--out") && has_value) {
      out_path = argv[++i];
    } else {
      Usage();
      return 2;
    }
  }
  if (samples == 0 || out_path == nullptr || step_s <= 0) {
    Usage();
    return 2;
  }
  if (series == 0) series = std::clamp<uint64_t>(samples / 100, 1, 10000);
  series = std::min(series, samples);
  const uint64_t per_series = samples / series;  // the first samples % series get one more
  const auto step_ms = static_cast<uint64_t>(step_s * 1000);
  const auto end_ms = static_cast<uint64_t>(end_s * 1000);

  const int fd = ::open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "gen_history: %s: %s\n", out_path, std::strerror(errno));
    return 1;
  }
  Output out(fd);
  uint64_t first_ms = UINT64_MAX, last_ms = 0;
  for (int family = 0; family < kFamilyCount; ++family) {
    const Family& f = kFamilies[family];
    if (static_cast<uint64_t>(family) >= series) break;
    out.Append("# HELP ");
    out.Append(f.name);
    out.Push(' ');
    out.Append(f.help);
    out.Append("\n# TYPE ");
    out.Append(f.name);
    out.Append(f.kind == Kind::kCounter ? " counter\n" : " gauge\n");
    // Series family, family + 6, ...: the families share the series evenly.
    for (uint64_t i = static_cast<uint64_t>(family); i < series; i += kFamilyCount) {
      const std::string prefix = SeriesPrefix(family, i / kFamilyCount);
      const uint64_t n = per_series + (i < samples % series ? 1 : 0);
      const uint64_t offset_ms = Mix(i) % step_ms;
      const uint64_t t_last = end_ms - offset_ms;
      const uint64_t t0 = t_last - (n - 1) * step_ms;
      first_ms = std::min(first_ms, t0);
      last_ms = std::max(last_ms, t_last);
      uint64_t random = Mix(i ^ 0x5eed);
      uint64_t value = f.kind == Kind::kCounter ? f.base / 2 + random % f.base : f.base;
      for (uint64_t k = 0; k < n; ++k) {
        random = Mix(random);
        if (f.kind == Kind::kCounter) {
          value += f.rate_or_swing / 2 + random % (f.rate_or_swing + 1);
        } else {
          value = f.base - f.rate_or_swing + random % (2 * f.rate_or_swing + 1);
        }
        out.Append(prefix);
        if (f.decimals > 0) {
          out.AppendFixed(value, f.decimals);
        } else {
          out.AppendUnsigned(value);
        }
        out.Push(' ');
        out.AppendFixed(t0 + k * step_ms, 3);
        out.Push('\n');
      }
    }
  }
  out.Append("# EOF\n");
  if (!out.Flush() || ::close(fd) != 0) {
    std::fprintf(stderr, "gen_history: writing %s: %s\n", out_path, std::strerror(errno));
    return 1;
  }
  std::printf("samples=%llu series=%llu first_ms=%llu last_ms=%llu bytes=%llu\n",
              static_cast<unsigned long long>(samples), static_cast<unsigned long long>(series),
              static_cast<unsigned long long>(first_ms), static_cast<unsigned long long>(last_ms),
              static_cast<unsigned long long>(out.written()));
  return 0;
}
