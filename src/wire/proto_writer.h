#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sluice::wire {

// sint32/sint64 encoding: small magnitudes of either sign stay short.
inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Appends protobuf fields to a string. Nested messages are written with
// BeginMessage/EndMessage, which reserve a fixed 5-byte length and patch it,
// so no temporary buffer is needed (a 5-byte varint with continuation bits is
// valid protobuf for any length below 2^35). A message whose size is known
// up front can be written with MessageHeader instead, in the canonical form
// (minimal varints) that encoders usually produce and that hashes of encoded
// bytes need.
class ProtoWriter {
 public:
  explicit ProtoWriter(std::string* out) : out_(out) {}

  void Varint(uint32_t field, uint64_t v) {
    Key(field, 0);
    RawVarint(v);
  }
  void Fixed64(uint32_t field, uint64_t v) {
    Key(field, 1);
    char b[8];
    std::memcpy(b, &v, 8);
    out_->append(b, 8);
  }
  void Fixed32(uint32_t field, uint32_t v) {
    Key(field, 5);
    char b[4];
    std::memcpy(b, &v, 4);
    out_->append(b, 4);
  }
  void Double(uint32_t field, double d) {
    uint64_t v;
    std::memcpy(&v, &d, 8);
    Fixed64(field, v);
  }
  void Bytes(uint32_t field, std::string_view b) {
    Key(field, 2);
    RawVarint(b.size());
    out_->append(b);
  }
  // Returns a mark to pass to EndMessage.
  size_t BeginMessage(uint32_t field) {
    Key(field, 2);
    size_t mark = out_->size();
    out_->append(5, '\0');
    return mark;
  }
  // Starts a nested message whose fields the caller then writes, exactly
  // `size` bytes of them (see the *Size functions below).
  void MessageHeader(uint32_t field, uint64_t size) {
    Key(field, 2);
    RawVarint(size);
  }
  void EndMessage(size_t mark) {
    uint64_t len = out_->size() - mark - 5;
    for (int i = 0; i < 5; ++i) {
      uint8_t b = static_cast<uint8_t>((len >> (7 * i)) & 0x7F);
      if (i < 4) b |= 0x80;
      (*out_)[mark + static_cast<size_t>(i)] = static_cast<char>(b);
    }
  }
  void RawVarint(uint64_t v) {
    if (v < 0x80) {  // keys and short lengths: most varints written
      out_->push_back(static_cast<char>(v));
      return;
    }
    char b[10];
    size_t n = 0;
    while (v >= 0x80) {
      b[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    b[n++] = static_cast<char>(v);
    out_->append(b, n);
  }

  // Encoded sizes, in the canonical form this writer uses.
  static constexpr size_t VarintSize(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  }
  static constexpr size_t KeySize(uint32_t field) {
    return VarintSize(static_cast<uint64_t>(field) << 3);
  }
  // Of a Bytes field, or a MessageHeader and its message, of `size` bytes.
  static constexpr size_t LengthDelimitedSize(uint32_t field, uint64_t size) {
    return KeySize(field) + VarintSize(size) + size;
  }
  static constexpr size_t VarintFieldSize(uint32_t field, uint64_t v) {
    return KeySize(field) + VarintSize(v);
  }
  static constexpr size_t Fixed64FieldSize(uint32_t field) { return KeySize(field) + 8; }

 private:
  void Key(uint32_t field, uint32_t type) { RawVarint((static_cast<uint64_t>(field) << 3) | type); }
  std::string* out_;
};

}  // namespace sluice::wire
