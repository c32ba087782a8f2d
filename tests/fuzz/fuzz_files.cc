// Linked into each fuzz target of sluice's own files (tests/fuzz/CMakeLists.txt).
#include "base/logging.h"

// libFuzzer calls this once, before the first input. Damaged files are what
// these targets feed, and the code under test warns of each one: a line per
// input would cost more than the input.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sluice::logging::Configure(sluice::logging::Level::kError, sluice::logging::Format::kLogfmt);
  return 0;
}
