#pragma once

// Fixed-width integers in the log's files: little-endian, written and read
// as host integers (format.h asserts the host is little-endian).

#include <cstring>
#include <string>

namespace sluice::log {

template <class T>
void PutFixed(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

template <class T>
T GetFixed(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace sluice::log
