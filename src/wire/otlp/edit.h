#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace sluice::wire::otlp {

// Editing encoded OTLP requests in place of decoding them: processors change
// a few attributes of a few items, so everything they do not touch is copied
// byte for byte and only the blocks holding a change are re-encoded.

// Encoded AnyValue messages.
std::string AnyString(std::string_view v);
std::string AnyBytes(std::string_view v);
std::string AnyInt(int64_t v);
std::string AnyDouble(double v);
std::string AnyBool(bool v);

// One AnyValue read without copying: its type and its scalar, or a view of
// its string, bytes, or encoded array or kvlist.
struct AnyView {
  enum class Type { kEmpty, kString, kBool, kInt, kDouble, kArray, kKvlist, kBytes };
  Type type = Type::kEmpty;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string_view s;
};
AnyView ViewAny(std::string_view any_value);

// The KeyValues at one field of a message, decoded for editing without
// copying: keys and values are views into the decoded message (which must
// outlive the map) or into strings the map owns. Values are encoded
// AnyValues. Keys keep their order; a key set anew goes last.
class AttributeMap {
 public:
  struct Entry {
    std::string_view key;
    std::string_view value;  // encoded AnyValue
    // The KeyValue as received, copied as it is when the entry is written
    // back; empty once the entry changed (Assign) or for a new entry.
    std::string_view raw = {};

    void Assign(std::string_view new_value) {
      value = new_value;
      raw = {};
    }
  };

  AttributeMap() = default;
  AttributeMap(const AttributeMap&) = delete;
  AttributeMap& operator=(const AttributeMap&) = delete;
  AttributeMap(AttributeMap&&) = default;
  AttributeMap& operator=(AttributeMap&&) = default;

  // The KeyValues at `field_number` of `message`, in order. Keys are unique
  // in valid OTLP; where one repeats, lookups find the first.
  static AttributeMap Decode(std::string_view message, uint32_t field_number);
  // As Decode, into this map, reusing its memory: a map kept per thread
  // edits item after item without allocating.
  void Reset(std::string_view message, uint32_t field_number);
  // The kvlist of an encoded AnyValue (empty if it is not a kvlist).
  static AttributeMap FromKvlist(std::string_view any_value);

  const std::vector<Entry>& entries() const { return entries_; }
  // Views stored here must point into the decoded message, into Own(), or
  // into memory that outlives the map; change values with Entry::Assign.
  std::vector<Entry>& mutable_entries() { return entries_; }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }

  // Keeps a copy of `s` until the map is reset or destroyed; returns a view
  // of the copy.
  std::string_view Own(std::string_view s);
  // As Own, of `text` encoded as a string AnyValue.
  std::string_view OwnString(std::string_view text);

  // The encoded value of `key`, or nullptr.
  const std::string_view* Find(std::string_view key) const;
  Entry* FindMutable(std::string_view key);
  // Inserts or replaces; both are copied into the map.
  void Set(std::string_view key, std::string_view value);
  // Replaces the value of an entry found by FindMutable with a copy of `value`.
  void Replace(Entry* found, std::string_view value) { found->Assign(Own(value)); }
  // Whether `key` was there.
  bool Erase(std::string_view key);

  // Appends every entry as a KeyValue at `field_number` of the message being
  // written into *out.
  void AppendTo(uint32_t field_number, std::string* out) const;
  // The map as an AnyValue kvlist.
  std::string ToKvlist() const;

 private:
  std::vector<Entry> entries_;
  std::deque<std::string> owned_;  // a deque: its strings never move
  size_t owned_used_ = 0;          // owned_[0, owned_used_) back views; the rest is spare
};

// `message` with every occurrence of the fields in `numbers` removed and
// `replacement` (encoded fields, possibly none) appended.
std::string ReplaceFields(std::string_view message, std::initializer_list<uint32_t> numbers,
                          std::string_view replacement);
// `message` with its KeyValues at `field_number` replaced by `attributes`.
std::string ReplaceAttributes(std::string_view message, uint32_t field_number,
                              const AttributeMap& attributes);
// As ReplaceAttributes, appending the new message to *out.
void AppendWithAttributes(std::string_view message, uint32_t field_number,
                          const AttributeMap& attributes, std::string* out);

// What a callback of EditRequest does to the block it is shown.
struct BlockEdit {
  bool drop = false;     // leaves and data points only: remove it
  bool replace = false;  // store `bytes` in its place
  // Leaves only: `bytes` holds whole fields of the leaf's container (key,
  // length and message; several to replace one leaf by many), not a message.
  bool framed = false;
  std::string bytes;  // the new encoded message; arrives empty, and
                      // appending to it reuses the memory of earlier edits
};

// Walks an OTLP export request (any signal) in wire order and applies the
// callbacks' edits. Each callback is optional (an empty function is not
// called):
//  - resource(resource, edit): the encoded Resource ("" when absent;
//    replacing an absent one adds it);
//  - scope(resource, scope, edit): the InstrumentationScope, with the
//    resource as edited;
//  - leaf(resource, scope, leaf, edit): each Span, LogRecord or Metric.
// Containers left without leaves are dropped. When nothing was edited,
// *changed is false and *out untouched: nothing was copied. Otherwise *out
// holds the new request, in which every block without an edit inside is
// the received bytes. A callback's error stops the walk and is returned.
struct RequestEditor {
  std::function<Status(std::string_view resource, BlockEdit* edit)> resource;
  std::function<Status(std::string_view resource, std::string_view scope, BlockEdit* edit)> scope;
  std::function<Status(std::string_view resource, std::string_view scope, std::string_view leaf,
                       BlockEdit* edit)>
      leaf;
};
Status EditRequest(std::string_view request, const RequestEditor& editor, std::string* out,
                   bool* changed);

// The data point types of a Metric, by the field its data sits at.
enum class PointKind { kNumber, kHistogram, kExponentialHistogram, kSummary };
// The field of a point's attributes for its kind.
uint32_t PointAttributesField(PointKind kind);
// The kind of the points at Metric field `field`; false when the field does
// not hold data (gauge, sum, histogram, exponential_histogram, summary).
bool PointKindOfField(uint32_t field, PointKind* kind);

// A Metric's data: the field it sits at (0 when it has none; the last one
// when several are set), its encoded message and the kind of its points.
struct MetricData {
  uint32_t field = 0;
  std::string_view bytes;
  PointKind kind = PointKind::kNumber;
};
MetricData FindMetricData(std::string_view metric);

// Applies fn(kind, point, edit) to every data point of an encoded Metric.
// Returns whether anything changed; *out (when changed) is the new Metric,
// with its other fields as received. A metric whose points were all
// dropped keeps its (empty) data; the caller decides whether to drop it.
Result<bool> EditDataPoints(
    std::string_view metric,
    const std::function<Status(PointKind kind, std::string_view point, BlockEdit* edit)>& fn,
    std::string* out, size_t* points_left);

}  // namespace sluice::wire::otlp
