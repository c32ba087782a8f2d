#pragma once

#include <cstdint>

namespace sluice {

// Sets up the C allocator for a server that allocates request-sized buffers
// on one thread and frees them on another (a receiver's body is freed by the
// log writer). By default glibc gives the top of a thread's heap back to the
// OS as soon as it is free and takes it again on the next request, so every
// request paid page faults and zeroing on fresh pages, and the freeing
// thread a TLB shootdown: a quarter of the core at 1.5M spans/s. Free memory
// is kept instead, and IdleMemoryReturner gives it back once the process is
// idle. Call once, first thing in main, before any thread starts.
void ConfigureAllocator();

// For a command that runs one job and exits (`sluice backfill`): memory is
// held tight rather than kept for the next burst, so RSS stays at what the
// job's bounded buffers need. Call before the job's threads start.
void ConfigureAllocatorForBatchJob();

// Returns the heap's free memory to the OS once the process has gone idle:
// Tick, called about once a second, trims when the process used under 2% of
// a core since the previous Tick and the heap holds more than 256 KiB free,
// and not again until the process has been busy in between. Not
// thread-safe: one caller (the main thread).
class IdleMemoryReturner {
 public:
  // True when this call returned memory.
  bool Tick();

 private:
  int64_t last_cpu_nanos_ = -1;
  int64_t last_mono_nanos_ = 0;
  bool returned_ = false;  // since the process was last busy
};

}  // namespace sluice
