#include <cinttypes>
#include <cstdio>

#include "io/crc32c.h"
#include "log/log.h"

namespace sluice::log {

// A cursor file holds one line: "v1 <segment> <byte_offset> <record_offset> <crc32c>\n",
// where the crc covers the text before it.
Status CursorStore::Init() {
  return fs_.CreateDirs(directory_);
}

std::string CursorStore::PathFor(const std::string& consumer) const {
  std::string safe;
  for (char c : consumer)
    safe +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return io::JoinPath(directory_, safe + ".cursor");
}

Result<Position> CursorStore::Load(const std::string& consumer) const {
  SLUICE_ASSIGN_OR_RETURN(std::string text, io::ReadSmallFile(fs_, PathFor(consumer)));
  Position p;
  uint32_t crc = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "v1 %" SCNu64 " %" SCNu64 " %" SCNu64 " %n", &p.segment,
                  &p.byte_offset, &p.record_offset, &consumed) != 3 ||
      std::sscanf(text.c_str() + consumed, "%" SCNu32, &crc) != 1 ||
      io::Crc32c(text.data(), static_cast<size_t>(consumed)) != crc) {
    return Status::Corruption("cursor file for " + consumer + " is damaged");
  }
  return p;
}

Status CursorStore::Commit(const std::string& consumer, const Position& pos) {
  char line[128];
  int n = std::snprintf(line, sizeof line, "v1 %" PRIu64 " %" PRIu64 " %" PRIu64 " ", pos.segment,
                        pos.byte_offset, pos.record_offset);
  std::string text(line, static_cast<size_t>(n));
  text += std::to_string(io::Crc32c(text.data(), text.size())) + "\n";
  return io::WriteFileAtomically(fs_, PathFor(consumer), text);
}

}  // namespace sluice::log
