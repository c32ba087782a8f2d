// Any bytes as a state file, replayed by StateFile::Open: nothing may crash.
// A file that opens is cut back to its last whole record, and what it held
// then survives a write and a reopen unchanged: replay never loses a record
// it accepted once.
//
// Input: one byte of flags, then the file. With flag bit 0 the checksums of
// the records the length fields chain together are rewritten first, so that
// inputs get past the CRCs to the records behind them; with bit 1 there is
// no compaction threshold or cooldown, so a write that at least doubles the
// file rewrites it (compaction) rather than appending to it.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "base/clock.h"
#include "base/crc32c.h"
#include "fuzz_files.h"
#include "io/memory_file_system.h"
#include "log/state_file.h"
#include "telemetry/metrics.h"

namespace {

using namespace sluice;
using fuzz::Check;

// The layout in state_file.h: a 16-byte header, then records of
// crc u32 | length u32 | length bytes.
constexpr size_t kHeaderSize = 16;

void FixChecksums(std::string* file) {
  for (size_t pos = kHeaderSize; pos + 8 <= file->size();) {
    uint32_t length;
    std::memcpy(&length, file->data() + pos + 4, 4);
    if (length > file->size() - pos - 8) return;
    uint32_t crc = Crc32c(file->data() + pos + 4, 4 + length);
    std::memcpy(file->data() + pos, &crc, 4);
    pos += 8 + length;
  }
}

std::map<std::string, std::string> Everything(const log::StateFile& f) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : f.Scan("")) out[k] = v;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ManualClock clock;
  static telemetry::Registry registry;
  uint8_t flags;
  std::string file;
  if (!fuzz::SplitInput(data, size, &flags, &file)) return 0;
  if (flags & 1) FixChecksums(&file);

  io::MemoryFileSystem fs;
  Check(fs.CreateDirs("/state").ok());
  fuzz::WriteFile(fs, "/state/state", file);
  log::StateFile::Options options;
  options.path = "/state/state";
  if (flags & 2) {
    options.compaction_threshold_bytes = 0;
    options.compaction_cooldown = std::chrono::nanoseconds(0);
  }
  std::map<std::string, std::string> expected;
  {
    auto opened = log::StateFile::Open(options, fs, clock, registry);
    if (!opened.ok()) return 0;
    expected = Everything(**opened);
    Check((*opened)->Put("fuzz/key", "value", log::StateFile::Sync::kNo).ok());
    expected["fuzz/key"] = "value";
    Check(Everything(**opened) == expected);
  }
  auto reopened = log::StateFile::Open(options, fs, clock, registry);
  Check(reopened.ok());
  Check(Everything(**reopened) == expected);
  return 0;
}
