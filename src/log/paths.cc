#include "log/paths.h"

#include "io/file_system.h"
#include "log/format.h"
#include "log/index.h"

namespace sluice::log {

std::string SegmentDirectory(std::string_view directory) {
  return io::JoinPath(directory, "log");
}

std::string SegmentFilePath(std::string_view directory, uint64_t base) {
  return io::JoinPath(SegmentDirectory(directory), SegmentFileName(base));
}

std::string IndexFilePath(std::string_view directory, uint64_t base) {
  return io::JoinPath(SegmentDirectory(directory), IndexFileName(base));
}

std::string StateFilePath(std::string_view directory) {
  return io::JoinPath(directory, "state");
}

std::string LockFilePath(std::string_view directory) {
  return io::JoinPath(directory, "LOCK");
}

}  // namespace sluice::log
