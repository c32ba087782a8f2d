// Scrape body parsing: a node_exporter-like body of about 1000 samples in
// the 0.0.4 text format and in OpenMetrics, fed to the streaming parser in
// 16 KiB chunks as a scrape's body arrives, next to memcpy of the same bytes
// (the reference).

#include <benchmark/benchmark.h>

#include <charconv>
#include <string>
#include <string_view>

#include "memcpy_reference.h"
#include "wire/prom/exposition.h"

namespace {

using sluice::wire::prom::ExpositionFormat;
using sluice::wire::prom::ExpositionParser;
using sluice::wire::prom::ExpositionSample;

constexpr size_t kChunk = 16 << 10;

// Values as Go's strconv formats them ('g', shortest): 12345.67, 4.2e+06.
std::string Value(uint64_t& seed, int kind) {
  seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  uint64_t r = seed >> 33;
  double v = 0;
  switch (kind % 4) {
    case 0:
      v = static_cast<double>(r % 10'000'000) / 100;  // seconds: 12345.67
      break;
    case 1:
      v = static_cast<double>(r) * 4096;  // bytes: 3.5840385024e+10
      break;
    case 2:
      v = static_cast<double>(r % 2);  // flags
      break;
    default:
      v = static_cast<double>(r % 100'000);  // counts
      break;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  return std::string(buf, res.ptr);
}

struct Body {
  std::string text;
  size_t samples = 0;
};

// The families node_exporter exposes most of on a small server (8 CPUs,
// disks, interfaces, mounts, interrupts), with HELP and TYPE lines; in
// OpenMetrics, counters are declared without their _total and the body ends
// with # EOF.
Body MakeBody(ExpositionFormat format) {
  const bool om = format == ExpositionFormat::kOpenMetrics;
  Body b;
  uint64_t seed = 42;
  int kind = 0;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    std::string declared(name);
    if (om && type == "counter" && declared.ends_with("_total")) {
      declared.resize(declared.size() - 6);
    }
    b.text += "# HELP " + declared + " " + std::string(help) + "\n";
    if (om && type == "untyped") type = "unknown";
    b.text += "# TYPE " + declared + " " + std::string(type) + "\n";
    ++kind;
  };
  auto sample = [&](std::string_view name, std::string_view labels) {
    b.text += name;
    if (!labels.empty()) b.text += "{" + std::string(labels) + "}";
    b.text += " " + Value(seed, kind) + "\n";
    ++b.samples;
  };
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.");
  for (int cpu = 0; cpu < 8; ++cpu) {
    for (const char* mode : modes) {
      sample("node_cpu_seconds_total",
             "cpu=\"" + std::to_string(cpu) + "\",mode=\"" + std::string(mode) + "\"");
    }
  }
  for (const char* m :
       {"node_cpu_scaling_frequency_hertz", "node_softnet_processed_total",
        "node_softnet_dropped_total", "node_softnet_times_squeezed_total",
        "node_schedstat_running_seconds_total", "node_schedstat_waiting_seconds_total",
        "node_schedstat_timeslices_total"}) {
    std::string_view name = m;
    family(name, name.ends_with("_total") ? "counter" : "gauge", "Per-CPU statistic.");
    for (int cpu = 0; cpu < 8; ++cpu) sample(name, "cpu=\"" + std::to_string(cpu) + "\"");
  }
  const char* disk_metrics[] = {
      "node_disk_read_bytes_total",         "node_disk_written_bytes_total",
      "node_disk_reads_completed_total",    "node_disk_writes_completed_total",
      "node_disk_io_time_seconds_total",    "node_disk_read_time_seconds_total",
      "node_disk_write_time_seconds_total", "node_disk_io_now"};
  for (const char* m : disk_metrics) {
    bool gauge = std::string_view(m) == "node_disk_io_now";
    family(m, gauge ? "gauge" : "counter", "Disk statistic from /proc/diskstats.");
    for (int d = 0; d < 8; ++d) {
      sample(m, "device=\"nvme" + std::to_string(d) + "n1\"");
    }
  }
  const char* net_metrics[] = {"node_network_receive_bytes_total",
                               "node_network_transmit_bytes_total",
                               "node_network_receive_packets_total",
                               "node_network_transmit_packets_total",
                               "node_network_receive_errs_total",
                               "node_network_transmit_errs_total",
                               "node_network_receive_drop_total",
                               "node_network_transmit_drop_total",
                               "node_network_up"};
  const char* devices[] = {"eth0",       "eth1",       "lo",          "docker0", "veth1a2b3c",
                           "veth4d5e6f", "veth7a8b9c", "br-0f1e2d3c", "wlan0",   "tun0"};
  for (const char* m : net_metrics) {
    bool gauge = std::string_view(m) == "node_network_up";
    family(m, gauge ? "gauge" : "counter", "Network device statistic.");
    for (const char* d : devices) sample(m, "device=\"" + std::string(d) + "\"");
  }
  const char* fs_metrics[] = {"node_filesystem_avail_bytes", "node_filesystem_size_bytes",
                              "node_filesystem_free_bytes",  "node_filesystem_files",
                              "node_filesystem_files_free",  "node_filesystem_readonly",
                              "node_filesystem_device_error"};
  const char* mounts[] = {"/",    "/boot", "/boot/efi", "/home",    "/var", "/var/lib/docker",
                          "/tmp", "/run",  "/run/lock", "/srv/data"};
  for (const char* m : fs_metrics) {
    family(m, "gauge", "Filesystem statistic.");
    int i = 0;
    for (const char* mount : mounts) {
      sample(m, "device=\"/dev/nvme0n1p" + std::to_string(++i) +
                    "\",fstype=\"ext4\",mountpoint=\"" + std::string(mount) + "\"");
    }
  }
  const char* memory[] = {
      "Active",         "Active_anon",    "Active_file",    "AnonHugePages",   "AnonPages",
      "Bounce",         "Buffers",        "Cached",         "CommitLimit",     "Committed_AS",
      "DirectMap1G",    "DirectMap2M",    "DirectMap4k",    "Dirty",           "HardwareCorrupted",
      "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp", "HugePages_Total", "Hugepagesize",
      "Inactive",       "Inactive_anon",  "Inactive_file",  "KernelStack",     "Mapped",
      "MemAvailable",   "MemFree",        "MemTotal",       "Mlocked",         "NFS_Unstable",
      "PageTables",     "Percpu",         "SReclaimable",   "SUnreclaim",      "Shmem",
      "ShmemHugePages", "ShmemPmdMapped", "Slab",           "SwapCached",      "SwapFree",
      "SwapTotal",      "Unevictable",    "VmallocChunk",   "VmallocTotal",    "VmallocUsed",
      "Writeback",      "WritebackTmp"};
  for (const char* m : memory) {
    std::string name = "node_memory_" + std::string(m) + "_bytes";
    family(name, "gauge", "Memory information field " + std::string(m) + "_bytes.");
    sample(name, "");
  }
  for (const char* m :
       {"node_netstat_Tcp_ActiveOpens", "node_netstat_Tcp_PassiveOpens",
        "node_netstat_Tcp_RetransSegs", "node_netstat_Tcp_InSegs", "node_netstat_Tcp_OutSegs",
        "node_netstat_Udp_InDatagrams", "node_netstat_Udp_OutDatagrams", "node_netstat_Udp_NoPorts",
        "node_netstat_Ip_Forwarding", "node_netstat_Icmp_InMsgs"}) {
    family(m, "untyped", "Statistic from /proc/net/netstat.");
    sample(m, "");
  }
  for (const char* m : {"node_vmstat_pgfault", "node_vmstat_pgmajfault", "node_vmstat_pgpgin",
                        "node_vmstat_pgpgout", "node_vmstat_pswpin", "node_vmstat_pswpout",
                        "node_vmstat_oom_kill"}) {
    family(m, "untyped", "/proc/vmstat information field.");
    sample(m, "");
  }
  family("node_hwmon_temp_celsius", "gauge", "Hardware monitor for temperature (input).");
  for (int sensor = 1; sensor <= 32; ++sensor) {
    sample("node_hwmon_temp_celsius",
           "chip=\"platform_coretemp_0\",sensor=\"temp" + std::to_string(sensor) + "\"");
  }
  const char* collectors[] = {"arp",     "bcache",     "bonding",   "btrfs",    "conntrack",
                              "cpu",     "cpufreq",    "diskstats", "edac",     "entropy",
                              "filefd",  "filesystem", "hwmon",     "loadavg",  "mdadm",
                              "meminfo", "netdev",     "netstat",   "sockstat", "vmstat"};
  family("node_scrape_collector_duration_seconds", "gauge",
         "node_exporter: Duration of a collector scrape.");
  for (const char* c : collectors) {
    sample("node_scrape_collector_duration_seconds", "collector=\"" + std::string(c) + "\"");
  }
  family("node_scrape_collector_success", "gauge", "node_exporter: Whether a collector succeeded.");
  for (const char* c : collectors) {
    sample("node_scrape_collector_success", "collector=\"" + std::string(c) + "\"");
  }
  family("node_interrupts_total", "counter", "Interrupt details.");
  for (int irq = 0; irq < 60; ++irq) {
    for (int cpu = 0; cpu < 8; ++cpu) {
      sample("node_interrupts_total", "cpu=\"" + std::to_string(cpu) + "\",devices=\"nvme0q" +
                                          std::to_string(irq) + "\",type=\"IR-PCI-MSI\"");
    }
  }
  family("go_gc_duration_seconds", "summary", "A summary of the pause duration of GC cycles.");
  for (const char* q : {"0", "0.25", "0.5", "0.75", "1"}) {
    sample("go_gc_duration_seconds", "quantile=\"" + std::string(q) + "\"");
  }
  sample("go_gc_duration_seconds_sum", "");
  sample("go_gc_duration_seconds_count", "");
  family("promhttp_metric_handler_request_duration_seconds", "histogram",
         "Histogram of scrape durations.");
  for (const char* le : {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"}) {
    sample("promhttp_metric_handler_request_duration_seconds_bucket",
           "le=\"" + std::string(le) + "\"");
  }
  sample("promhttp_metric_handler_request_duration_seconds_sum", "");
  sample("promhttp_metric_handler_request_duration_seconds_count", "");
  if (om) b.text += "# EOF\n";
  return b;
}

const Body& TextBody() {
  static const Body b = MakeBody(ExpositionFormat::kText004);
  return b;
}

const Body& OpenMetricsBody() {
  static const Body b = MakeBody(ExpositionFormat::kOpenMetrics);
  return b;
}

void BM_Memcpy(benchmark::State& state) {
  sluice::bench::MemcpyReference(state, TextBody().text);
}
BENCHMARK(BM_Memcpy);

// One scrape per iteration, the parser reused as a scrape loop reuses it.
void Parse(benchmark::State& state, ExpositionFormat format, const Body& body) {
  ExpositionParser parser(format);
  std::string_view in = body.text;
  size_t samples = 0;
  double sum = 0;
  auto on_sample = [&](const ExpositionSample& s) {
    ++samples;
    sum += s.value + static_cast<double>(s.labels.size());
  };
  for (auto _ : state) {
    parser.Reset(format);
    for (size_t off = 0; off < in.size(); off += kChunk) {
      auto st = parser.Feed(in.substr(off, kChunk), on_sample);
      if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    }
    auto st = parser.Finish(on_sample);
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    benchmark::DoNotOptimize(sum);
  }
  if (samples != state.iterations() * body.samples) state.SkipWithError("samples missing");
  state.SetItemsProcessed(static_cast<int64_t>(samples));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
  state.counters["samples"] = static_cast<double>(body.samples);
  state.counters["body_bytes"] = static_cast<double>(in.size());
}

void BM_ParseText004(benchmark::State& state) {
  Parse(state, ExpositionFormat::kText004, TextBody());
}
BENCHMARK(BM_ParseText004);

void BM_ParseOpenMetrics(benchmark::State& state) {
  Parse(state, ExpositionFormat::kOpenMetrics, OpenMetricsBody());
}
BENCHMARK(BM_ParseOpenMetrics);

}  // namespace

int main(int argc, char** argv) {
  return sluice::bench::RunWithSluiceHeap(argc, argv);
}
