#include "base/memory.h"

#include <malloc.h>
#include <time.h>

namespace sluice {
namespace {

int64_t NanosOf(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Free memory the allocator may hold before a trim is worth a system call.
constexpr size_t kWorthReturning = 256 << 10;

}  // namespace

void ConfigureAllocator() {
  // A heap gives back its free top only beyond this much, far above what a
  // receiver's requests in flight take and return; the rest waits for the
  // idle trim. (A fixed value also stops glibc's own adjustment of both
  // thresholds.)
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  // Blocks this large get their own mapping, given back when freed.
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
}

void ConfigureAllocatorForBatchJob() {
  // Few threads: two heaps are enough. Request bodies (a quarter MiB,
  // made on the reading thread and freed on a sending one) get mappings of
  // their own, so they leave no holes in the heaps and RSS is the buffers
  // alive: a few per cent more CPU (page faults) for memory that does not
  // creep over a long run.
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_TRIM_THRESHOLD, 2 << 20);
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
}

bool IdleMemoryReturner::Tick() {
  int64_t cpu = NanosOf(CLOCK_PROCESS_CPUTIME_ID);
  int64_t mono = NanosOf(CLOCK_MONOTONIC);
  bool first = last_cpu_nanos_ < 0;
  int64_t used = cpu - last_cpu_nanos_;
  int64_t elapsed = mono - last_mono_nanos_;
  last_cpu_nanos_ = cpu;
  last_mono_nanos_ = mono;
  if (first || elapsed <= 0) return false;
  if (used * 50 > elapsed) {  // 2% of a core or more: busy
    returned_ = false;
    return false;
  }
  if (returned_) return false;
  returned_ = true;
  struct mallinfo2 info = mallinfo2();
  if (info.fordblks < kWorthReturning) return false;
  return malloc_trim(0) != 0;
}

}  // namespace sluice
