#pragma once

#include <cstddef>
#include <string_view>

// The UI's files as tools/embed_ui.py writes them into the build tree.
namespace sluice::ui::internal {

struct EmbeddedFile {
  std::string_view path;  // "/index.html", "/assets/index-3aq5UTyt.js"
  std::string_view content_type;
  std::string_view gzipped;  // the whole file, gzip-compressed
  size_t size;               // bytes once inflated
};

// Sorted by path.
extern const EmbeddedFile kFiles[];
extern const size_t kFileCount;

}  // namespace sluice::ui::internal
