#pragma once

// Check levels:
//   SLUICE_CHECK  — always on; a violated invariant aborts with file:line.
//   SLUICE_DCHECK — debug builds only; for hot paths.
// Conditions that input can cause are never checks: they are Status + counter.

namespace sluice::internal {
[[noreturn]] void CheckFailed(const char* expr, const char* file, int line);
}  // namespace sluice::internal

#define SLUICE_CHECK(cond) \
  ((cond) ? (void)0 : ::sluice::internal::CheckFailed(#cond, __FILE__, __LINE__))

#ifdef NDEBUG
#define SLUICE_DCHECK(cond) ((void)0)
#else
#define SLUICE_DCHECK(cond) SLUICE_CHECK(cond)
#endif
