// OTTL statements: the editors of the transform processor.

#include <re2/re2.h>

#include <algorithm>
#include <cstring>

#include "ottl/ottl.h"
#include "ottl/parse.h"
#include "ottl/pattern.h"
#include "wire/otlp/common.h"
#include "wire/otlp/edit.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::ottl {

namespace f = wire::otlp::field;
using wire::otlp::AttributeMap;

std::string ToAnyValue(const Value& v) {
  std::string out;
  wire::ProtoWriter w(&out);
  switch (v.type) {
    case Value::Type::kNil:
      break;
    case Value::Type::kBool:
      w.Varint(f::kAnyBool, v.b ? 1 : 0);
      break;
    case Value::Type::kInt:
      w.Varint(f::kAnyInt, static_cast<uint64_t>(v.i));
      break;
    case Value::Type::kDouble:
      w.Double(f::kAnyDouble, v.d);
      break;
    case Value::Type::kString:
      w.Bytes(f::kAnyString, v.s);
      break;
    case Value::Type::kBytes:
      w.Bytes(f::kAnyBytes, v.s);
      break;
    case Value::Type::kMap:
      w.Bytes(f::kAnyKvlist, v.s);
      break;
    case Value::Type::kList: {
      if (v.list.empty()) {
        w.Bytes(f::kAnyArray, v.s);  // from data: the encoded ArrayValue
        break;
      }
      std::string values;
      for (const Value& item : v.list) {
        wire::ProtoWriter(&values).Bytes(f::kArrayValues, ToAnyValue(item));
      }
      w.Bytes(f::kAnyArray, values);
      break;
    }
  }
  return out;
}

namespace {

// The map a path names, decoded for editing; false when it names no map
// (a missing entry, another type), which editors take as nothing to do.
// `storage` keeps the encoded map alive for the views in *out.
bool ReadMap(const MutableItem& item, const Path& path, std::string* storage, AttributeMap* out) {
  Value v = item.Get(path);
  if (v.type != Value::Type::kMap) return false;
  storage->assign(v.s);
  out->Reset(*storage, f::kKvlistValues);
  return true;
}

Status WriteMap(MutableItem& item, const Path& path, const AttributeMap& map) {
  std::string list;
  map.AppendTo(f::kKvlistValues, &list);
  Value v = Value::Owned(std::move(list));
  v.type = Value::Type::kMap;
  return item.Set(path, v);
}

std::vector<std::string> Strings(const Value& list) {
  std::vector<std::string> out;
  auto take = [&](const Value& v) {
    if (v.type == Value::Type::kString) out.emplace_back(v.s);
  };
  if (!list.list.empty()) {
    for (const Value& v : list.list) take(v);
  } else if (list.type == Value::Type::kList) {
    wire::ProtoReader r(list.s);
    while (r.Next()) {
      if (r.field() == f::kArrayValues) take(FromAnyValue(r.bytes()));
    }
  } else if (list.type == Value::Type::kString) {
    take(list);
  }
  return out;
}

struct Replacer {
  std::shared_ptr<const re2::RE2> re;
  std::string rewrite;

  static Result<Replacer> Make(const detail::Arg& pattern, const detail::Arg& replacement) {
    if (!pattern.is_string_literal) {
      return Status::InvalidArgument("column " + std::to_string(pattern.column) +
                                     ": the pattern must be a \"string\"");
    }
    if (!replacement.is_string_literal) {
      return Status::InvalidArgument("column " + std::to_string(replacement.column) +
                                     ": the replacement must be a \"string\"");
    }
    Replacer r;
    auto re = std::make_shared<re2::RE2>(pattern.literal, re2::RE2::Quiet);
    if (!re->ok()) {
      return Status::InvalidArgument("column " + std::to_string(pattern.column) +
                                     ": invalid regular expression: " + re->error());
    }
    Result<std::string> rewrite = GoTemplateToRewrite(replacement.literal, *re);
    if (!rewrite.ok()) {
      return Status::InvalidArgument("column " + std::to_string(replacement.column) + ": " +
                                     rewrite.status().message());
    }
    r.re = std::move(re);
    r.rewrite = std::move(rewrite).value();
    return r;
  }

  // Replaces every match; false when nothing matched.
  bool Apply(std::string* s) const { return re2::RE2::GlobalReplace(s, *re, rewrite) > 0; }
};

// Cuts `s` to at most `limit` bytes without splitting a UTF-8 character.
std::string_view Truncate(std::string_view s, size_t limit) {
  if (s.size() <= limit) return s;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

}  // namespace

class Statement::Editor {
 public:
  virtual ~Editor() = default;
  virtual Status Run(MutableItem& item, bool* changed) const = 0;
};

namespace {

using Arg = detail::Arg;

Status NeedPath(const Arg& a, ContextKind kind, const char* what) {
  if (!a.is_path) {
    return Status::InvalidArgument("column " + std::to_string(a.column) + ": " + what +
                                   " must be a path");
  }
  Status st = detail::CheckSettable(kind, a.path);
  if (!st.ok()) {
    return Status::InvalidArgument("column " + std::to_string(a.column) + ": " + st.message());
  }
  return Status::Ok();
}

class SetEditor final : public Statement::Editor {
 public:
  SetEditor(Path target, std::shared_ptr<const Node> value)
      : target_(std::move(target)), value_(std::move(value)) {}
  Status Run(MutableItem& item, bool* changed) const override {
    Value v;
    SLUICE_RETURN_IF_ERROR(detail::Evaluate(*value_, item, &v));
    if (v.type == Value::Type::kNil) return Status::Ok();  // OTTL: set to nil does nothing
    SLUICE_RETURN_IF_ERROR(item.Set(target_, v));
    *changed = true;
    return Status::Ok();
  }

 private:
  Path target_;
  std::shared_ptr<const Node> value_;
};

// The editors that change one map: read it, edit it, write it back.
class MapEditor : public Statement::Editor {
 public:
  explicit MapEditor(Path target) : target_(std::move(target)) {}
  Status Run(MutableItem& item, bool* changed) const final {
    std::string storage;
    AttributeMap map;
    if (!ReadMap(item, target_, &storage, &map)) return Status::Ok();
    bool edited = false;
    SLUICE_RETURN_IF_ERROR(Edit(item, &map, &edited));
    if (!edited) return Status::Ok();
    SLUICE_RETURN_IF_ERROR(WriteMap(item, target_, map));
    *changed = true;
    return Status::Ok();
  }

 protected:
  virtual Status Edit(const MutableItem& item, AttributeMap* map, bool* edited) const = 0;

 private:
  Path target_;
};

class DeleteKey final : public MapEditor {
 public:
  DeleteKey(Path target, std::shared_ptr<const Node> key)
      : MapEditor(std::move(target)), key_(std::move(key)) {}
  Status Edit(const MutableItem& item, AttributeMap* map, bool* edited) const override {
    Value k;
    SLUICE_RETURN_IF_ERROR(detail::Evaluate(*key_, item, &k));
    if (k.type != Value::Type::kString) {
      return Status::InvalidArgument(std::string("delete_key's key is ") + TypeName(k) +
                                     ", not a string");
    }
    *edited = map->Erase(k.s);
    return Status::Ok();
  }

 private:
  std::shared_ptr<const Node> key_;
};

class DeleteMatchingKeys final : public MapEditor {
 public:
  DeleteMatchingKeys(Path target, Pattern pattern)
      : MapEditor(std::move(target)), pattern_(std::move(pattern)) {}
  Status Edit(const MutableItem&, AttributeMap* map, bool* edited) const override {
    auto& e = map->mutable_entries();
    size_t before = e.size();
    std::erase_if(e, [&](const AttributeMap::Entry& kv) { return pattern_.Matches(kv.key); });
    *edited = e.size() != before;
    return Status::Ok();
  }

 private:
  Pattern pattern_;
};

class KeepKeys final : public MapEditor {
 public:
  KeepKeys(Path target, std::shared_ptr<const Node> keys)
      : MapEditor(std::move(target)), keys_(std::move(keys)) {}
  Status Edit(const MutableItem& item, AttributeMap* map, bool* edited) const override {
    Value v;
    SLUICE_RETURN_IF_ERROR(detail::Evaluate(*keys_, item, &v));
    std::vector<std::string> keep = Strings(v);
    auto& e = map->mutable_entries();
    size_t before = e.size();
    std::erase_if(e, [&](const AttributeMap::Entry& kv) {
      return std::find(keep.begin(), keep.end(), kv.key) == keep.end();
    });
    *edited = e.size() != before;
    return Status::Ok();
  }

 private:
  std::shared_ptr<const Node> keys_;
};

class ReplaceAllPatterns final : public MapEditor {
 public:
  ReplaceAllPatterns(Path target, bool keys, Replacer r)
      : MapEditor(std::move(target)), keys_(keys), r_(std::move(r)) {}
  Status Edit(const MutableItem&, AttributeMap* map, bool* edited) const override {
    for (auto& e : map->mutable_entries()) {
      if (keys_) {
        std::string key(e.key);
        if (!r_.Apply(&key)) continue;
        e.key = map->Own(key);
        e.raw = {};
      } else {
        wire::otlp::AnyView v = wire::otlp::ViewAny(e.value);
        if (v.type != wire::otlp::AnyView::Type::kString) continue;
        std::string text(v.s);
        if (!r_.Apply(&text)) continue;
        e.Assign(map->OwnString(text));
      }
      *edited = true;
    }
    return Status::Ok();
  }

 private:
  bool keys_;
  Replacer r_;
};

class TruncateAll final : public MapEditor {
 public:
  TruncateAll(Path target, int64_t limit) : MapEditor(std::move(target)), limit_(limit) {}
  Status Edit(const MutableItem&, AttributeMap* map, bool* edited) const override {
    for (auto& e : map->mutable_entries()) {
      wire::otlp::AnyView v = wire::otlp::ViewAny(e.value);
      if (v.type != wire::otlp::AnyView::Type::kString) continue;
      std::string_view cut = Truncate(v.s, static_cast<size_t>(limit_));
      if (cut.size() == v.s.size()) continue;
      e.Assign(map->OwnString(cut));
      *edited = true;
    }
    return Status::Ok();
  }

 private:
  int64_t limit_;
};

class Limit final : public MapEditor {
 public:
  Limit(Path target, int64_t limit, std::shared_ptr<const Node> priority)
      : MapEditor(std::move(target)), limit_(limit), priority_(std::move(priority)) {}
  Status Edit(const MutableItem& item, AttributeMap* map, bool* edited) const override {
    auto& e = map->mutable_entries();
    if (e.size() <= static_cast<size_t>(limit_)) return Status::Ok();
    std::vector<std::string> priority;
    if (priority_) {
      Value v;
      SLUICE_RETURN_IF_ERROR(detail::Evaluate(*priority_, item, &v));
      priority = Strings(v);
    }
    auto is_priority = [&](std::string_view k) {
      return std::find(priority.begin(), priority.end(), k) != priority.end();
    };
    // Priority keys first, then the others in their order, up to the limit.
    size_t budget = static_cast<size_t>(limit_);
    std::vector<bool> keep(e.size(), false);
    for (size_t i = 0; i < e.size() && budget > 0; ++i) {
      if (is_priority(e[i].key)) keep[i] = true, --budget;
    }
    for (size_t i = 0; i < e.size() && budget > 0; ++i) {
      if (!keep[i]) keep[i] = true, --budget;
    }
    size_t w = 0;
    for (size_t i = 0; i < e.size(); ++i) {
      if (keep[i]) e[w++] = e[i];
    }
    e.resize(w);
    *edited = true;
    return Status::Ok();
  }

 private:
  int64_t limit_;
  std::shared_ptr<const Node> priority_;
};

enum class MergeStrategy { kInsert, kUpdate, kUpsert };

class MergeMaps final : public MapEditor {
 public:
  MergeMaps(Path target, std::shared_ptr<const Node> source, MergeStrategy strategy)
      : MapEditor(std::move(target)), source_(std::move(source)), strategy_(strategy) {}
  Status Edit(const MutableItem& item, AttributeMap* map, bool* edited) const override {
    Value v;
    SLUICE_RETURN_IF_ERROR(detail::Evaluate(*source_, item, &v));
    if (v.type != Value::Type::kMap) return Status::Ok();
    std::string storage(v.s);
    AttributeMap source;
    source.Reset(storage, f::kKvlistValues);
    for (const auto& kv : source.entries()) {
      AttributeMap::Entry* existing = map->FindMutable(kv.key);
      if (existing != nullptr) {
        if (strategy_ == MergeStrategy::kInsert || existing->value == kv.value) continue;
        existing->Assign(map->Own(kv.value));
      } else {
        if (strategy_ == MergeStrategy::kUpdate) continue;
        map->Set(kv.key, kv.value);
      }
      *edited = true;
    }
    return Status::Ok();
  }

 private:
  std::shared_ptr<const Node> source_;
  MergeStrategy strategy_;
};

class ReplacePattern final : public Statement::Editor {
 public:
  ReplacePattern(Path target, Replacer r) : target_(std::move(target)), r_(std::move(r)) {}
  Status Run(MutableItem& item, bool* changed) const override {
    Value v = item.Get(target_);
    if (v.type != Value::Type::kString) return Status::Ok();
    std::string text(v.s);
    if (!r_.Apply(&text)) return Status::Ok();
    SLUICE_RETURN_IF_ERROR(item.Set(target_, Value::Owned(std::move(text))));
    *changed = true;
    return Status::Ok();
  }

 private:
  Path target_;
  Replacer r_;
};

std::string Column(size_t column) {
  return "column " + std::to_string(column) + ": ";
}

Result<std::shared_ptr<const Statement::Editor>> MakeEditor(const detail::ParsedStatement& st,
                                                            ContextKind kind) {
  const auto& a = st.args;
  auto arity = [&](size_t min, size_t max) -> Status {
    if (a.size() >= min && a.size() <= max) return Status::Ok();
    std::string want =
        min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    return Status::InvalidArgument(Column(st.editor_column) + st.editor + " takes " + want +
                                   " arguments, got " + std::to_string(a.size()));
  };
  auto int_arg = [&](const Arg& arg, const char* what) -> Result<int64_t> {
    if (!arg.is_int_literal || arg.int_literal < 0) {
      return Status::InvalidArgument(Column(arg.column) + what + " must be a non-negative int");
    }
    return arg.int_literal;
  };
  using E = std::shared_ptr<const Statement::Editor>;
  const std::string& e = st.editor;
  if (e == "set") {
    SLUICE_RETURN_IF_ERROR(arity(2, 2));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "set's target"));
    return E(std::make_shared<SetEditor>(a[0].path, a[1].node));
  }
  if (e == "delete_key") {
    SLUICE_RETURN_IF_ERROR(arity(2, 2));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "delete_key's target"));
    return E(std::make_shared<DeleteKey>(a[0].path, a[1].node));
  }
  if (e == "delete_matching_keys") {
    SLUICE_RETURN_IF_ERROR(arity(2, 2));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "delete_matching_keys's target"));
    if (!a[1].is_string_literal) {
      return Status::InvalidArgument(Column(a[1].column) + "the pattern must be a \"string\"");
    }
    Result<Pattern> p = Pattern::Compile(a[1].literal);
    if (!p.ok()) {
      return Status::InvalidArgument(Column(a[1].column) +
                                     "invalid regular expression: " + p.status().message());
    }
    return E(std::make_shared<DeleteMatchingKeys>(a[0].path, std::move(p).value()));
  }
  if (e == "keep_keys") {
    SLUICE_RETURN_IF_ERROR(arity(2, 2));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "keep_keys's target"));
    return E(std::make_shared<KeepKeys>(a[0].path, a[1].node));
  }
  if (e == "replace_pattern") {
    SLUICE_RETURN_IF_ERROR(arity(3, 3));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "replace_pattern's target"));
    SLUICE_ASSIGN_OR_RETURN(Replacer r, Replacer::Make(a[1], a[2]));
    return E(std::make_shared<ReplacePattern>(a[0].path, std::move(r)));
  }
  if (e == "replace_all_patterns") {
    SLUICE_RETURN_IF_ERROR(arity(4, 4));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "replace_all_patterns's target"));
    if (!a[1].is_string_literal || (a[1].literal != "key" && a[1].literal != "value")) {
      return Status::InvalidArgument(Column(a[1].column) + "the mode must be \"key\" or \"value\"");
    }
    SLUICE_ASSIGN_OR_RETURN(Replacer r, Replacer::Make(a[2], a[3]));
    return E(std::make_shared<ReplaceAllPatterns>(a[0].path, a[1].literal == "key", std::move(r)));
  }
  if (e == "truncate_all") {
    SLUICE_RETURN_IF_ERROR(arity(2, 2));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "truncate_all's target"));
    SLUICE_ASSIGN_OR_RETURN(int64_t limit, int_arg(a[1], "the limit"));
    return E(std::make_shared<TruncateAll>(a[0].path, limit));
  }
  if (e == "limit") {
    SLUICE_RETURN_IF_ERROR(arity(2, 3));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "limit's target"));
    SLUICE_ASSIGN_OR_RETURN(int64_t limit, int_arg(a[1], "the limit"));
    return E(std::make_shared<Limit>(a[0].path, limit, a.size() == 3 ? a[2].node : nullptr));
  }
  if (e == "merge_maps") {
    SLUICE_RETURN_IF_ERROR(arity(3, 3));
    SLUICE_RETURN_IF_ERROR(NeedPath(a[0], kind, "merge_maps's target"));
    MergeStrategy s;
    if (a[2].is_string_literal && a[2].literal == "insert") {
      s = MergeStrategy::kInsert;
    } else if (a[2].is_string_literal && a[2].literal == "update") {
      s = MergeStrategy::kUpdate;
    } else if (a[2].is_string_literal && a[2].literal == "upsert") {
      s = MergeStrategy::kUpsert;
    } else {
      return Status::InvalidArgument(Column(a[2].column) +
                                     "the strategy must be \"insert\", \"update\" or \"upsert\"");
    }
    return E(std::make_shared<MergeMaps>(a[0].path, a[1].node, s));
  }
  return Status::InvalidArgument(
      Column(st.editor_column) + "unknown editor \"" + e +
      "\"; statements may call set, delete_key, delete_matching_keys, keep_keys, "
      "replace_pattern, replace_all_patterns, truncate_all, limit, merge_maps");
}

}  // namespace

Result<Statement> Statement::Compile(std::string_view text, ContextKind kind) {
  SLUICE_ASSIGN_OR_RETURN(detail::ParsedStatement parsed, detail::ParseStatement(text, kind));
  SLUICE_ASSIGN_OR_RETURN(std::shared_ptr<const Editor> editor, MakeEditor(parsed, kind));
  Statement s;
  s.text_ = std::string(text);
  s.editor_ = std::move(editor);
  s.where_ = std::move(parsed.where);
  return s;
}

Status Statement::Execute(MutableItem& item, bool* changed) const {
  *changed = false;
  if (where_) {
    Value v;
    Status st = detail::Evaluate(*where_, item, &v);
    if (!st.ok()) return Status::InvalidArgument("statement " + text_ + ": " + st.message());
    if (v.type != Value::Type::kBool) {
      return Status::InvalidArgument("statement " + text_ + ": the where condition is " +
                                     TypeName(v) + ", not a bool");
    }
    if (!v.b) return Status::Ok();
  }
  Status st = editor_->Run(item, changed);
  if (!st.ok()) return Status::InvalidArgument("statement " + text_ + ": " + st.message());
  return Status::Ok();
}

}  // namespace sluice::ottl
