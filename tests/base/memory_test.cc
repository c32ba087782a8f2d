#include "base/memory.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/rss.h"

namespace sluice {
namespace {

// After a burst of request-sized buffers the heap keeps what was freed (so
// the next burst finds it); once the process idles it must give it back.
TEST(IdleMemoryReturnerTest, HeapFreedByABurstIsReturnedOnceIdle) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the sanitizer's allocator has no trim";
#else
  ConfigureAllocator();
  IdleMemoryReturner returner;
  EXPECT_FALSE(returner.Tick());  // the first only starts the measure
  uint64_t before = testing::RssAnonKib();
  std::vector<void*> blocks;
  for (int i = 0; i < 192; ++i) {  // 6 MiB in 32 KiB requests
    void* p = std::malloc(32 << 10);
    std::memset(p, 1, 32 << 10);
    blocks.push_back(p);
  }
  // Busy: the burst above, and a little more to be sure of 2% of a core.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  while (std::chrono::steady_clock::now() < until) {
  }
  EXPECT_FALSE(returner.Tick());
  for (void* p : blocks) std::free(p);
  uint64_t kept = testing::RssAnonKib();
  EXPECT_GE(kept, before + (4 << 10)) << "the heap gave the burst back at once";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(returner.Tick());
  EXPECT_LE(testing::RssAnonKib(), before + (1 << 10));
  // Not again while the process stays idle.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(returner.Tick());
#endif
}

}  // namespace
}  // namespace sluice
