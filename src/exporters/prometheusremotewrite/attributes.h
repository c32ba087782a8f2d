#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "exporters/prometheusremotewrite/series.h"

namespace sluice::exporters::prw {

// How OTLP attributes become labels: their values rendered as text, their
// keys sanitised into label names, and the labels of one series merged by
// name with the translation's own and the external labels.

// A decoded AnyValue (the last member of the oneof on the wire wins).
struct AnyValue {
  uint32_t kind = 0;  // a wire::otlp::field::kAny* number, 0 when unset
  std::string_view bytes;
  uint64_t scalar = 0;
};

Status DecodeAnyValue(std::string_view raw, AnyValue* out);
Status DecodeKeyValue(std::string_view raw, std::string_view* key, std::string_view* value);

// Bump allocator for label text: strings never move, so views into it stay
// valid until Reset(), which keeps the blocks for reuse.
class Arena {
 public:
  std::string_view Copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = Alloc(s.size());
    std::memcpy(p, s.data(), s.size());
    return std::string_view(p, s.size());
  }
  void Reset() {
    next_ = 0;
    cur_ = nullptr;
    used_ = cap_ = 0;
  }

 private:
  static constexpr size_t kBlockSize = 16 * 1024;
  struct Block {
    std::unique_ptr<char[]> data;
    size_t size;
  };
  char* Alloc(size_t n) {
    if (n > cap_ - used_) NextBlock(n);
    char* p = cur_ + used_;
    used_ += n;
    return p;
  }
  void NextBlock(size_t n) {
    while (next_ < blocks_.size()) {
      Block& b = blocks_[next_++];
      if (b.size >= n) {
        Use(b);
        return;
      }
    }
    size_t size = std::max(kBlockSize, n);
    blocks_.push_back(Block{std::make_unique<char[]>(size), size});
    next_ = blocks_.size();
    Use(blocks_.back());
  }
  void Use(Block& b) {
    cur_ = b.data.get();
    cap_ = b.size;
    used_ = 0;
  }
  std::vector<Block> blocks_;
  size_t next_ = 0;
  char* cur_ = nullptr;
  size_t used_ = 0;
  size_t cap_ = 0;
};

// Who set a label; the lowest wins when names meet.
enum class Source : uint8_t {
  kTranslation = 0,  // __name__, le, quantile, job, instance, otel_scope_*
  kAttribute = 1,    // point (or, for target_info, resource) attributes
  kExternal = 2,
};

struct Candidate {
  std::string_view name;
  std::string_view value;
  std::string_view key;  // the attribute key before sanitising: orders joined values
  Source source;
};

// Stands in for values filled in per series (__name__, le, quantile). It is
// told apart from label text by its address, so it is one object (defined
// in attributes.cc), not a constant each file would have its own copy of.
extern const std::string_view kPlaceholder;
inline constexpr std::string_view kNameLabel = "__name__";

// Appends the attribute `key_value` (a KeyValue) to *out as a label
// candidate: its key as a label name, its value as text (strings as they
// are, bytes in base64, anything else as JSON), copied into `arena` where
// it had to be made; `render` is a working buffer. An attribute whose key
// has no usable character is left out; one whose value is not UTF-8 is left
// out and sets *bad_utf8.
Status AddAttribute(std::string_view key_value, Arena& arena, std::string& render,
                    std::vector<Candidate>& out, bool* bad_utf8);

// Where BuildLabels put the labels whose values are kPlaceholder: indexes
// into its `labels`, SIZE_MAX for none.
struct PlaceholderIndexes {
  size_t name;
  size_t extra;  // le or quantile
};

// Sorts the candidates into `labels`: one label per name, translation labels
// over attributes over external labels; attributes whose keys sanitise to
// the same name have their values joined with ';' in order of their keys.
// `join` is a working buffer, and joined values are copied into `arena`.
PlaceholderIndexes BuildLabels(std::vector<Candidate>& candidates, Arena& arena, std::string& join,
                               std::vector<LabelRef>& labels);

}  // namespace sluice::exporters::prw
