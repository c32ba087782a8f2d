// Any text as an OTTL condition and as a statement: compiling must neither
// crash nor recurse without bound; a condition that compiles must evaluate
// (to a bool or an error) against a span with attributes of every type, and
// a statement that compiles must run on it and leave a span that parses.
#include <cstdint>
#include <string>
#include <string_view>

#include "ottl/otlp_items.h"
#include "ottl/ottl.h"
#include "wire/otlp/traces.h"

namespace {

// A span with string, int and kvlist attributes, written field by field
// (the fuzz build links no protobuf library).
const std::string& SpanBytes() {
  static const std::string span = [] {
    auto bytes = [](int field, const std::string& v) {
      return std::string(1, static_cast<char>(field << 3 | 2)) +
             std::string(1, static_cast<char>(v.size())) + v;
    };
    std::string any_string = bytes(1, "v");
    std::string any_int = std::string("\x18\x2a", 2);  // int_value = 42
    std::string kv1 = bytes(1, "k") + bytes(2, any_string);
    std::string kv2 = bytes(1, "n") + bytes(2, any_int);
    std::string kvlist = bytes(6, bytes(1, kv1));
    std::string kv3 = bytes(1, "m") + bytes(2, kvlist);
    return bytes(1, std::string(16, '\x01')) + bytes(2, std::string(8, '\x02')) + bytes(5, "name") +
           bytes(9, kv1) + bytes(9, kv2) + bytes(9, kv3);
  }();
  return span;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto kind : {sluice::ottl::ContextKind::kSpan, sluice::ottl::ContextKind::kLog}) {
    auto c = sluice::ottl::Condition::Compile(text, kind);
    if (!c.ok()) continue;
    sluice::wire::otlp::SpanView view;
    if (!sluice::wire::otlp::ValidateSpan(SpanBytes(), 0, &view).ok()) __builtin_trap();
    sluice::ottl::Parents parents;
    if (kind == sluice::ottl::ContextKind::kSpan) {
      sluice::ottl::SpanItem item(parents, view);
      (void)c->Evaluate(item);
    } else {
      sluice::ottl::LogItem item(parents, SpanBytes());
      (void)c->Evaluate(item);
    }
  }
  auto st = sluice::ottl::Statement::Compile(text, sluice::ottl::ContextKind::kSpan);
  if (st.ok()) {
    sluice::ottl::Parents parents;
    sluice::ottl::EditableItem item(sluice::ottl::ContextKind::kSpan, SpanBytes(), parents);
    bool changed = false;
    if (st->Execute(item, &changed).ok() && changed) {
      sluice::wire::otlp::SpanView view;
      if (!sluice::wire::otlp::ViewSpan(item.bytes(), &view).ok()) __builtin_trap();
    }
  }
  return 0;
}
