#pragma once

// Where a log keeps its files under its storage directory
// (LogOptions::directory), for the log itself and for tools and tests that
// look at the files:
//
//   <directory>/LOCK                         held (flock) while the log is open
//   <directory>/state                        the state file: cursors, ...
//   <directory>/log/<20-digit base>.seg      a segment (SegmentFileName)
//   <directory>/log/<20-digit base>.seg.idx  its index (IndexFileName)
//
// Reading or changing the files of a log that is open is not safe; these
// only name them.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::log {

// The directory of the segments and their indexes.
std::string SegmentDirectory(std::string_view directory);
// The segment whose first batch has record offset `base`.
std::string SegmentFilePath(std::string_view directory, uint64_t base);
// The index file of that segment.
std::string IndexFilePath(std::string_view directory, uint64_t base);
std::string StateFilePath(std::string_view directory);
std::string LockFilePath(std::string_view directory);

}  // namespace sluice::log
