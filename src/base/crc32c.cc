#include "base/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sluice {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;

// Slicing-by-8 tables, computed at compile time.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}
constexpr auto kTables = MakeTables();

#if defined(__x86_64__)
// One crc32 instruction retires per cycle but takes three to produce its
// result, so a single dependent chain runs at a third of the unit's speed.
// Long inputs are cut into three equal streams summed side by side and then
// joined: the register is linear over GF(2), so the CRC of A||B starting
// from c is Shift(|B|, CRC(c, A)) ^ CRC(0, B), where Shift(n, x) runs x over
// n zero bytes. For a fixed n, Shift is four 256-entry table lookups.
struct ShiftTable {
  uint32_t t[4][256];
};

__attribute__((target("sse4.2"))) ShiftTable MakeShiftTable(size_t zero_bytes) {
  ShiftTable s;
  for (int byte = 0; byte < 4; ++byte) {
    for (uint32_t v = 0; v < 256; ++v) {
      uint64_t c = uint64_t{v} << (8 * byte);
      for (size_t i = 0; i < zero_bytes; i += 8) c = _mm_crc32_u64(c, 0);
      s.t[byte][v] = static_cast<uint32_t>(c);
    }
  }
  return s;
}

inline uint32_t Shift(const ShiftTable& s, uint32_t c) {
  return s.t[0][c & 0xFF] ^ s.t[1][(c >> 8) & 0xFF] ^ s.t[2][(c >> 16) & 0xFF] ^ s.t[3][c >> 24];
}

// Stream lengths: long for big payloads, short so a 1 KiB batch still
// gets most of the speed-up.
constexpr size_t kLongStream = 1024;
constexpr size_t kShortStream = 128;

struct ShiftTables {
  ShiftTable long_stream;
  ShiftTable short_stream;
};

const ShiftTables& Tables() {
  static const ShiftTables* tables = [] {
    auto* t = new ShiftTables;
    t->long_stream = MakeShiftTable(kLongStream);
    t->short_stream = MakeShiftTable(kShortStream);
    return t;
  }();
  return *tables;
}

template <size_t kStream>
__attribute__((target("sse4.2"))) inline uint32_t ThreeStreams(uint32_t c, const ShiftTable& shift,
                                                               const uint8_t*& p, size_t& n) {
  while (n >= 3 * kStream) {
    uint64_t c0 = c;
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (size_t i = 0; i < kStream; i += 8) {
      uint64_t w0;
      uint64_t w1;
      uint64_t w2;
      std::memcpy(&w0, p + i, 8);
      std::memcpy(&w1, p + kStream + i, 8);
      std::memcpy(&w2, p + 2 * kStream + i, 8);
      c0 = _mm_crc32_u64(c0, w0);
      c1 = _mm_crc32_u64(c1, w1);
      c2 = _mm_crc32_u64(c2, w2);
    }
    c = Shift(shift, Shift(shift, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1)) ^
        static_cast<uint32_t>(c2);
    p += 3 * kStream;
    n -= 3 * kStream;
  }
  return c;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  uint32_t c32 = ~crc;
  if (n >= 3 * kShortStream) {
    const ShiftTables& tables = Tables();
    c32 = ThreeStreams<kLongStream>(c32, tables.long_stream, p, n);
    c32 = ThreeStreams<kShortStream>(c32, tables.short_stream, p, n);
  }
  uint64_t c = c32;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool DetectHardware() {
  return __builtin_cpu_supports("sse4.2");
}
#else
bool DetectHardware() {
  return false;
}
#endif

const bool kHardware = DetectHardware();

}  // namespace

namespace internal {
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  while (n >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^
        kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
  return ~c;
}
}  // namespace internal

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (kHardware) return ExtendHardware(crc, static_cast<const uint8_t*>(data), n);
#endif
  return internal::Crc32cExtendPortable(crc, data, n);
}

bool Crc32cIsHardwareAccelerated() {
  return kHardware;
}

}  // namespace sluice
