#pragma once

#include <string_view>

namespace sluice {

// Names the calling thread as `top -H`, perf and debuggers show it. Linux
// keeps at most 15 bytes; longer names are cut.
void SetThreadName(std::string_view name);

// Marks the calling thread as background work (SCHED_BATCH): waking it does
// not preempt the running thread, so a handoff to it (the log writer, an
// exporter) waits for the request-serving thread to finish what it is doing
// and then finds more work gathered. Best effort; ignored where refused.
void SetThreadBackground();

// Lowers the calling thread's share of a busy CPU (nice 10: about a tenth
// of a default thread's), for work that may fall behind under load and
// catch up when the CPU is idle (the query index). Best effort.
void SetThreadLowPriority();

}  // namespace sluice
