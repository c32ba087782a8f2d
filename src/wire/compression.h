#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::wire {

enum class Compression { kNone, kGzip, kZstd, kSnappyBlock };

// Maps a Content-Encoding value ("gzip", "zstd", "identity", "") to a
// Compression; false for anything else.
bool ParseContentEncoding(std::string_view value, Compression* out);

// Decompresses `in` into *out. Stops as soon as the output would pass
// `max_out` bytes, so a small body that expands enormously costs at most
// max_out of memory: ResourceExhausted then. InvalidArgument for data that is
// not valid in the format, and for a zstd frame that declares a window larger
// than ZstdWindowLogLimit(max_out) allows (refused before the window is
// allocated; the message names the limit in MiB).
Status Decompress(Compression c, std::string_view in, uint64_t max_out, std::string* out);

// The window a zstd frame may declare, as a power of two, when its output is
// capped at `max_out` bytes: the smallest that covers max_out, but never below
// kZstdMinWindowLog nor above kZstdMaxWindowLog. A zstd decoder allocates the
// window a frame declares before it writes a byte, so without this bound a
// frame of a few bytes costs up to 128 MiB whatever max_out is. A frame that
// states its content size needs no window larger than that content; streaming
// encoders that do not state it (the Go encoder the OpenTelemetry Collector
// sends with) declare 8 MiB, hence the floor.
inline constexpr int kZstdMinWindowLog = 23;  // 8 MiB
inline constexpr int kZstdMaxWindowLog = 27;  // 128 MiB, zstd's own default limit
int ZstdWindowLogLimit(uint64_t max_out);

// Compresses (for tests, fuzz seeds and exporters).
std::string Compress(Compression c, std::string_view in);

// Snappy block compression into `scratch`, which keeps its memory from one
// call to the next: a sender compressing every request reuses one buffer
// instead of allocating and zero-filling a new one each time. Returns the
// compressed bytes, a view into scratch valid until its next use.
std::string_view SnappyCompressInto(std::string_view in, std::string* scratch);

// Snappy block decompression into `scratch`, kept from call to call the same
// way. *out receives the bytes, a view into scratch valid until its next use.
// Errors as Decompress: ResourceExhausted past `max_out`, InvalidArgument for
// bytes that are not a snappy block.
Status SnappyDecompressInto(std::string_view in, uint64_t max_out, std::string* scratch,
                            std::string_view* out);

// Lets go of a scratch buffer one outsized input grew past 4 MiB, so that a
// kept buffer costs what typical inputs need. Call once nothing points into
// it any more.
inline void ReleaseLargeScratch(std::string* scratch) {
  if (scratch->size() > (4u << 20)) std::string().swap(*scratch);
}

}  // namespace sluice::wire
