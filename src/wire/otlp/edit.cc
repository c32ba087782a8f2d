#include "wire/otlp/edit.h"

#include <algorithm>
#include <cstring>

#include "wire/otlp/common.h"
#include "wire/otlp/metrics.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::wire::otlp {

std::string AnyString(std::string_view v) {
  std::string out;
  ProtoWriter(&out).Bytes(field::kAnyString, v);
  return out;
}

std::string AnyBytes(std::string_view v) {
  std::string out;
  ProtoWriter(&out).Bytes(field::kAnyBytes, v);
  return out;
}

std::string AnyInt(int64_t v) {
  std::string out;
  ProtoWriter(&out).Varint(field::kAnyInt, static_cast<uint64_t>(v));
  return out;
}

std::string AnyDouble(double v) {
  std::string out;
  ProtoWriter(&out).Double(field::kAnyDouble, v);
  return out;
}

std::string AnyBool(bool v) {
  std::string out;
  ProtoWriter(&out).Varint(field::kAnyBool, v ? 1 : 0);
  return out;
}

AnyView ViewAny(std::string_view any_value) {
  AnyView v;
  ProtoReader r(any_value);
  while (r.Next()) {
    switch (r.field()) {
      case field::kAnyString:
        v = AnyView{AnyView::Type::kString, false, 0, 0, r.bytes()};
        break;
      case field::kAnyBool:
        v = AnyView{AnyView::Type::kBool, r.varint() != 0, 0, 0, {}};
        break;
      case field::kAnyInt:
        v = AnyView{AnyView::Type::kInt, false, r.as_int64(), 0, {}};
        break;
      case field::kAnyDouble:
        v = AnyView{AnyView::Type::kDouble, false, 0, r.as_double(), {}};
        break;
      case field::kAnyArray:
        v = AnyView{AnyView::Type::kArray, false, 0, 0, r.bytes()};
        break;
      case field::kAnyKvlist:
        v = AnyView{AnyView::Type::kKvlist, false, 0, 0, r.bytes()};
        break;
      case field::kAnyBytes:
        v = AnyView{AnyView::Type::kBytes, false, 0, 0, r.bytes()};
        break;
      default:
        break;
    }
  }
  return v;
}

AttributeMap AttributeMap::Decode(std::string_view message, uint32_t field_number) {
  AttributeMap m;
  m.Reset(message, field_number);
  return m;
}

void AttributeMap::Reset(std::string_view message, uint32_t field_number) {
  entries_.clear();
  owned_used_ = 0;
  ProtoReader r(message);
  while (r.Next()) {
    if (r.field() != field_number || !r.Is(WireType::kLengthDelimited)) continue;
    std::string_view key, value;
    ProtoReader kv(r.bytes());
    while (kv.Next()) {
      if (!kv.Is(WireType::kLengthDelimited)) continue;
      if (kv.field() == field::kKeyValueKey) key = kv.bytes();
      if (kv.field() == field::kKeyValueValue) value = kv.bytes();
    }
    entries_.push_back({key, value, r.bytes()});
  }
}

AttributeMap AttributeMap::FromKvlist(std::string_view any_value) {
  ProtoReader r(any_value);
  std::string_view list;
  while (r.Next()) {
    if (r.field() == field::kAnyKvlist && r.Is(WireType::kLengthDelimited)) list = r.bytes();
  }
  return Decode(list, field::kKvlistValues);
}

std::string_view AttributeMap::Own(std::string_view s) {
  if (owned_used_ == owned_.size()) owned_.emplace_back();
  std::string& slot = owned_[owned_used_++];
  slot.assign(s);  // keeps the slot's capacity for the next item
  return slot;
}

std::string_view AttributeMap::OwnString(std::string_view text) {
  if (owned_used_ == owned_.size()) owned_.emplace_back();
  std::string& slot = owned_[owned_used_++];
  slot.clear();
  ProtoWriter(&slot).Bytes(field::kAnyString, text);
  return slot;
}

const std::string_view* AttributeMap::Find(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

AttributeMap::Entry* AttributeMap::FindMutable(std::string_view key) {
  for (Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

void AttributeMap::Set(std::string_view key, std::string_view value) {
  if (Entry* e = FindMutable(key)) {
    Replace(e, value);
    return;
  }
  std::string_view k = Own(key);
  entries_.push_back({k, Own(value)});
}

bool AttributeMap::Erase(std::string_view key) {
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

void AttributeMap::AppendTo(uint32_t field_number, std::string* out) const {
  ProtoWriter w(out);
  for (const Entry& e : entries_) {
    if (!e.raw.empty()) {
      w.Bytes(field_number, e.raw);
      continue;
    }
    size_t inner = ProtoWriter::LengthDelimitedSize(field::kKeyValueKey, e.key.size()) +
                   ProtoWriter::LengthDelimitedSize(field::kKeyValueValue, e.value.size());
    w.MessageHeader(field_number, inner);
    w.Bytes(field::kKeyValueKey, e.key);
    w.Bytes(field::kKeyValueValue, e.value);
  }
}

std::string AttributeMap::ToKvlist() const {
  std::string list;
  AppendTo(field::kKvlistValues, &list);
  std::string out;
  ProtoWriter(&out).Bytes(field::kAnyKvlist, list);
  return out;
}

std::string ReplaceFields(std::string_view message, std::initializer_list<uint32_t> numbers,
                          std::string_view replacement) {
  std::string out;
  out.reserve(message.size() + replacement.size());
  ProtoReader r(message);
  while (r.Next()) {
    if (std::find(numbers.begin(), numbers.end(), r.field()) != numbers.end()) continue;
    out.append(r.raw_field());
  }
  out.append(replacement);
  return out;
}

std::string ReplaceAttributes(std::string_view message, uint32_t field_number,
                              const AttributeMap& attributes) {
  std::string out;
  AppendWithAttributes(message, field_number, attributes, &out);
  return out;
}

void AppendWithAttributes(std::string_view message, uint32_t field_number,
                          const AttributeMap& attributes, std::string* out) {
  out->reserve(out->size() + message.size() + 256);
  ProtoReader r(message);
  while (r.Next()) {
    if (r.field() != field_number) out->append(r.raw_field());
  }
  attributes.AppendTo(field_number, out);
}

namespace {

// Every request nests the same way: request.1 -> container.2 -> container.2
// -> leaf, each container holding its resource or scope at 1.
constexpr uint32_t kRequestChild = 1;
constexpr uint32_t kContainerHead = 1;
constexpr uint32_t kContainerChild = 2;

std::string_view Head(std::string_view container) {
  std::string_view head;
  ProtoReader r(container);
  while (r.Next()) {
    if (r.field() == kContainerHead && r.Is(WireType::kLengthDelimited)) head = r.bytes();
  }
  return head;
}

// The edits of one walk, in wire order, so the second pass can find them.
struct Edits {
  std::vector<BlockEdit> heads;  // per resource container, then per scope container
  // Per leaf; replacements are kept in `leaf_bytes`, one buffer for all.
  struct Leaf {
    bool drop = false;
    bool replace = false;
    bool framed = false;
    size_t begin = 0, end = 0;  // in leaf_bytes
  };
  std::vector<Leaf> leaves;
  std::string leaf_bytes;
  std::vector<bool> dirty;  // per container (resource ones and scope ones, in order)
};

// Writes `container` (a resource or scope container) with its head and
// children edited. `children` walks the children: for a scope container
// leaves, for a resource container scope containers. Returns false when the
// container lost every child it had.
template <class Child>
bool WriteContainer(uint32_t field_number, std::string_view container, const BlockEdit& head,
                    Child&& child, std::string* out) {
  ProtoWriter w(out);
  size_t mark = w.BeginMessage(field_number);
  bool wrote_head = false;
  bool had_children = false;
  bool kept_children = false;
  ProtoReader r(container);
  while (r.Next()) {
    if (r.field() == kContainerHead && head.replace) {
      if (!wrote_head) w.Bytes(kContainerHead, head.bytes);
      wrote_head = true;
      continue;
    }
    if (r.field() == kContainerChild && r.Is(WireType::kLengthDelimited)) {
      had_children = true;
      kept_children |= child(r.bytes(), r.raw_field(), out);
      continue;
    }
    out->append(r.raw_field());
  }
  if (head.replace && !wrote_head) w.Bytes(kContainerHead, head.bytes);
  if (had_children && !kept_children) {
    out->resize(mark - ProtoWriter::KeySize(field_number));
    return false;
  }
  w.EndMessage(mark);
  return true;
}

}  // namespace

Status EditRequest(std::string_view request, const RequestEditor& editor, std::string* out,
                   bool* changed) {
  *changed = false;
  Edits e;
  BlockEdit scratch;
  bool any = false;
  // First pass: ask the callbacks.
  {
    ProtoReader req(request);
    while (req.Next()) {
      if (req.field() != kRequestChild || !req.Is(WireType::kLengthDelimited)) continue;
      size_t rc = e.heads.size();
      e.heads.emplace_back();
      e.dirty.push_back(false);
      std::string_view resource = Head(req.bytes());
      if (editor.resource) {
        SLUICE_RETURN_IF_ERROR(editor.resource(resource, &e.heads[rc]));
      }
      // A copy: e.heads grows below, which moves its strings.
      std::string resource_copy;
      if (e.heads[rc].replace) {
        e.dirty[rc] = true;
        resource_copy = e.heads[rc].bytes;
        resource = resource_copy;
      }
      ProtoReader rs(req.bytes());
      while (rs.Next()) {
        if (rs.field() != kContainerChild || !rs.Is(WireType::kLengthDelimited)) continue;
        size_t sc = e.heads.size();
        e.heads.emplace_back();
        e.dirty.push_back(false);
        std::string_view scope = Head(rs.bytes());
        if (editor.scope) SLUICE_RETURN_IF_ERROR(editor.scope(resource, scope, &e.heads[sc]));
        std::string scope_copy;
        if (e.heads[sc].replace) {
          e.dirty[sc] = true;
          scope_copy = e.heads[sc].bytes;
          scope = scope_copy;
        }
        ProtoReader ss(rs.bytes());
        while (ss.Next()) {
          if (ss.field() != kContainerChild || !ss.Is(WireType::kLengthDelimited)) continue;
          Edits::Leaf& le = e.leaves.emplace_back();
          if (!editor.leaf) continue;
          // One BlockEdit for every leaf, so its buffer's memory is reused.
          scratch.drop = scratch.replace = scratch.framed = false;
          scratch.bytes.clear();
          SLUICE_RETURN_IF_ERROR(editor.leaf(resource, scope, ss.bytes(), &scratch));
          le.drop = scratch.drop;
          le.replace = scratch.replace && !scratch.drop;
          le.framed = scratch.framed;
          if (le.replace) {
            // Edits tend to touch most leaves: size the buffer for all once.
            if (e.leaf_bytes.empty()) e.leaf_bytes.reserve(request.size() + request.size() / 4);
            le.begin = e.leaf_bytes.size();
            e.leaf_bytes.append(scratch.bytes);
            le.end = e.leaf_bytes.size();
          }
          if (le.drop || le.replace) e.dirty[sc] = true;
        }
        if (e.dirty[sc]) e.dirty[rc] = true;
      }
      any |= e.dirty[rc];
    }
  }
  if (!any) return Status::Ok();
  *changed = true;
  // Second pass: write what changed, copy the rest.
  out->clear();
  out->reserve(request.size());
  size_t container = 0;
  size_t leaf = 0;
  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != kRequestChild || !req.Is(WireType::kLengthDelimited)) {
      out->append(req.raw_field());
      continue;
    }
    size_t rc = container++;
    if (!e.dirty[rc]) {
      out->append(req.raw_field());
      // Skip this resource's scopes and leaves in the edit lists.
      ProtoReader rs(req.bytes());
      while (rs.Next()) {
        if (rs.field() != kContainerChild || !rs.Is(WireType::kLengthDelimited)) continue;
        ++container;
        ProtoReader ss(rs.bytes());
        while (ss.Next()) {
          if (ss.field() == kContainerChild && ss.Is(WireType::kLengthDelimited)) ++leaf;
        }
      }
      continue;
    }
    WriteContainer(
        kRequestChild, req.bytes(), e.heads[rc],
        [&](std::string_view scope_container, std::string_view raw, std::string* o) {
          size_t sc = container++;
          if (!e.dirty[sc]) {
            ProtoReader ss(scope_container);
            while (ss.Next()) {
              if (ss.field() == kContainerChild && ss.Is(WireType::kLengthDelimited)) ++leaf;
            }
            o->append(raw);
            return true;
          }
          return WriteContainer(
              kContainerChild, scope_container, e.heads[sc],
              [&](std::string_view, std::string_view leaf_raw, std::string* lo) {
                const Edits::Leaf& le = e.leaves[leaf++];
                if (le.drop) return false;
                if (le.replace) {
                  std::string_view bytes =
                      std::string_view(e.leaf_bytes).substr(le.begin, le.end - le.begin);
                  if (le.framed) {
                    lo->append(bytes);  // whole fields: one leaf became several
                  } else {
                    ProtoWriter(lo).Bytes(kContainerChild, bytes);
                  }
                } else {
                  lo->append(leaf_raw);
                }
                return true;
              },
              o);
        },
        out);
  }
  return Status::Ok();
}

uint32_t PointAttributesField(PointKind kind) {
  switch (kind) {
    case PointKind::kNumber:
      return field::kNumberAttributes;
    case PointKind::kHistogram:
      return field::kHistogramAttributes;
    case PointKind::kExponentialHistogram:
      return field::kExpHistogramAttributes;
    case PointKind::kSummary:
      return field::kSummaryAttributes;
  }
  return 0;
}

bool PointKindOfField(uint32_t f, PointKind* kind) {
  switch (f) {
    case field::kMetricGauge:
    case field::kMetricSum:
      *kind = PointKind::kNumber;
      return true;
    case field::kMetricHistogram:
      *kind = PointKind::kHistogram;
      return true;
    case field::kMetricExponentialHistogram:
      *kind = PointKind::kExponentialHistogram;
      return true;
    case field::kMetricSummary:
      *kind = PointKind::kSummary;
      return true;
    default:
      return false;
  }
}

MetricData FindMetricData(std::string_view metric) {
  MetricData data;
  ProtoReader m(metric);
  while (m.Next()) {
    PointKind kind;
    if (!m.Is(WireType::kLengthDelimited) || !PointKindOfField(m.field(), &kind)) continue;
    data.field = m.field();
    data.bytes = m.bytes();
    data.kind = kind;
  }
  return data;
}

Result<bool> EditDataPoints(
    std::string_view metric,
    const std::function<Status(PointKind kind, std::string_view point, BlockEdit* edit)>& fn,
    std::string* out, size_t* points_left) {
  *points_left = 0;
  bool changed = false;
  std::string result;
  ProtoReader m(metric);
  while (m.Next()) {
    PointKind kind;
    if (!PointKindOfField(m.field(), &kind) || !m.Is(WireType::kLengthDelimited)) {
      result.append(m.raw_field());
      continue;
    }
    std::string data;
    bool data_changed = false;
    ProtoReader d(m.bytes());
    while (d.Next()) {
      if (d.field() != field::kDataPoints || !d.Is(WireType::kLengthDelimited)) {
        data.append(d.raw_field());
        continue;
      }
      BlockEdit edit;
      SLUICE_RETURN_IF_ERROR(fn(kind, d.bytes(), &edit));
      if (edit.drop) {
        data_changed = true;
        continue;
      }
      ++*points_left;
      if (edit.replace) {
        data_changed = true;
        ProtoWriter(&data).Bytes(field::kDataPoints, edit.bytes);
      } else {
        data.append(d.raw_field());
      }
    }
    if (data_changed) {
      changed = true;
      ProtoWriter(&result).Bytes(m.field(), data);
    } else {
      result.append(m.raw_field());
    }
  }
  if (changed) *out = std::move(result);
  return changed;
}

}  // namespace sluice::wire::otlp
