#pragma once

#include <memory>
#include <string>

#include "io/file_system.h"

namespace sluice::io {

// Opens `path` for appending with O_DIRECT. FailedPrecondition when the file
// system does not support direct I/O (the caller falls back to buffered).
Result<std::unique_ptr<WritableFile>> OpenDirect(const std::string& path, OpenMode mode);

}  // namespace sluice::io
