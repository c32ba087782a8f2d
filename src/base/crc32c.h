#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice {

// CRC-32C (Castagnoli), as used by iSCSI and ext4: reflected polynomial 0x82F63B78.
// Extend(crc, data) continues a running checksum: Value(a+b) == Extend(Value(a), b).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) {
  return Crc32cExtend(0, data, n);
}
inline uint32_t Crc32c(std::string_view s) {
  return Crc32c(s.data(), s.size());
}

// True when the hardware instruction is in use on this CPU.
bool Crc32cIsHardwareAccelerated();

namespace internal {
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);
}  // namespace internal

}  // namespace sluice
