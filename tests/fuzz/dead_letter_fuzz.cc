// Any bytes as the files of a dead-letter queue, read as a restarted
// exporter and `sluice dlq` read them: Open (which takes stock of the
// entries and clears what a crash left half-written), List and Read of every
// entry. Nothing may crash, an entry that reads whole agrees with what List
// said of it, and a request put into the queue afterwards reads back whole
// with the queue within its bound.
//
// Input: one byte of flags, then an entry file. With flag bit 0 its checksum
// is rewritten first, so that inputs get past it to the fields behind; bit 1
// adds the file's first half as a second entry, bit 2 a half-written
// temporary, and bit 3 bounds the queue at 4 KiB so that the put evicts.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/crc32c.h"
#include "exporters/common/dead_letter.h"
#include "fuzz_files.h"
#include "io/memory_file_system.h"

namespace {

using namespace sluice;
using fuzz::Check;

// The layout in dead_letter.h: magic (8) | crc32c u32 of everything after it.
constexpr size_t kCrcAt = 8;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint8_t flags;
  std::string entry;
  if (!fuzz::SplitInput(data, size, &flags, &entry)) return 0;
  if ((flags & 1) && entry.size() >= kCrcAt + 4) {
    uint32_t crc = Crc32c(entry.data() + kCrcAt + 4, entry.size() - kCrcAt - 4);
    std::memcpy(entry.data() + kCrcAt, &crc, 4);
  }
  io::MemoryFileSystem fs;
  const std::string dir = "/dlq/exporter";
  Check(fs.CreateDirs(dir).ok());
  fuzz::WriteFile(fs, dir + "/00000000000000000001.dlq", entry);
  if (flags & 2)
    fuzz::WriteFile(fs, dir + "/00000000000000000002.dlq", entry.substr(0, entry.size() / 2));
  if (flags & 4) fuzz::WriteFile(fs, dir + "/00000000000000000003.dlq.tmp", entry);
  const uint64_t max_bytes = (flags & 8) ? 4096 : 1 << 20;

  auto q = exporters::DeadLetterQueue::Open(fs, dir, "exporter", max_bytes, nullptr);
  Check(q.ok());
  Check(!fs.Exists(dir + "/00000000000000000003.dlq.tmp"));
  auto listed = (*q)->List();
  Check(listed.ok() && listed->size() == (*q)->records());
  for (const auto& e : *listed) {
    auto r = (*q)->Read(e.id);
    if (!r.ok()) continue;
    Check(e.readable && r->items == e.items && r->route == e.route && r->tenant == e.tenant &&
          r->signal == e.signal);
  }

  pipeline::OutboundRequest put;
  put.signal = log::Signal::kLogs;
  put.route = "/v1/logs";
  put.tenant = "tenant";
  put.body = std::string(1000, 'b');
  put.items = 3;
  Check((*q)->Put(put, "fuzz", 1).ok());
  Check((*q)->bytes() <= max_bytes);
  auto after = (*q)->List();
  Check(after.ok() && !after->empty());
  auto back = (*q)->Read(after->back().id);
  Check(back.ok() && back->body == put.body && back->route == put.route &&
        back->tenant == put.tenant && back->items == put.items && back->signal == put.signal);
  return 0;
}
