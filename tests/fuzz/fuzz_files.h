#pragma once

// What the fuzz targets of sluice's own files share.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "io/file_system.h"

namespace sluice::fuzz {

// An invariant of the target: a violation is a finding.
inline void Check(bool ok) {
  if (!ok) std::abort();
}

// Writes `bytes` as the whole of `path`.
inline void WriteFile(io::FileSystem& fs, const std::string& path, std::string_view bytes) {
  auto w = fs.OpenWritable(path, io::OpenMode::kTruncate);
  Check(w.ok() &&
        (*w)->Append({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}).ok());
}

// A file target's input: one byte of flags, then the file. False for an
// empty input, which has neither.
inline bool SplitInput(const uint8_t* data, size_t size, uint8_t* flags, std::string* file) {
  if (size == 0) return false;
  *flags = data[0];
  file->assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  return true;
}

}  // namespace sluice::fuzz
