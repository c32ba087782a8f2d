#include "wire/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>

namespace sluice::wire {
namespace {

constexpr size_t kChunk = 64 * 1024;

Status TooLarge(uint64_t max_out) {
  return Status::ResourceExhausted("decompressed body exceeds the limit of " +
                                   std::to_string(max_out) + " bytes");
}

Status Gunzip(std::string_view in, uint64_t max_out, std::string* out) {
  z_stream zs{};
  // 15 + 32: a zlib or gzip header, detected automatically.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::Internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out->size() >= max_out) {
      inflateEnd(&zs);
      return TooLarge(max_out);
    }
    size_t old = out->size();
    size_t grow = static_cast<size_t>(std::min<uint64_t>(kChunk, max_out - old));
    out->resize(old + grow);
    zs.next_out = reinterpret_cast<Bytef*>(out->data() + old);
    zs.avail_out = static_cast<uInt>(grow);
    rc = inflate(&zs, Z_NO_FLUSH);
    out->resize(old + grow - zs.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs.avail_out == 0)) {
      inflateEnd(&zs);
      return Status::InvalidArgument(std::string("invalid gzip body: ") +
                                     (zs.msg ? zs.msg : "truncated"));
    }
    if (zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Status::InvalidArgument("invalid gzip body: truncated");
    }
  }
  inflateEnd(&zs);
  return Status::Ok();
}

Status Unzstd(std::string_view in, uint64_t max_out, std::string* out) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (ds == nullptr) return Status::Internal("ZSTD_createDStream failed");
  const int window_log = ZstdWindowLogLimit(max_out);
  if (ZSTD_isError(ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, window_log))) {
    ZSTD_freeDStream(ds);
    return Status::Internal("ZSTD_d_windowLogMax refused");
  }
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t rc = 1;
  while (true) {
    if (out->size() >= max_out && rc != 0) {
      // Full: only an already finished frame may stop here.
      ZSTD_freeDStream(ds);
      return TooLarge(max_out);
    }
    size_t old = out->size();
    size_t grow = static_cast<size_t>(std::min<uint64_t>(kChunk, max_out - old));
    out->resize(old + grow);
    ZSTD_outBuffer output{out->data() + old, grow, 0};
    rc = ZSTD_decompressStream(ds, &output, &input);
    out->resize(old + output.pos);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(ds);
      if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) {
        return Status::InvalidArgument(
            "invalid zstd body: the frame's window is larger than the limit of " +
            std::to_string((uint64_t{1} << window_log) >> 20) + " MiB");
      }
      return Status::InvalidArgument(std::string("invalid zstd body: ") + ZSTD_getErrorName(rc));
    }
    if (rc == 0 && input.pos == input.size) break;  // every frame complete
    if (input.pos == input.size && output.pos < grow) {
      ZSTD_freeDStream(ds);
      return Status::InvalidArgument("invalid zstd body: truncated");
    }
  }
  ZSTD_freeDStream(ds);
  return Status::Ok();
}

Status Unsnappy(std::string_view in, uint64_t max_out, std::string* out) {
  std::string_view bytes;
  Status st = SnappyDecompressInto(in, max_out, out, &bytes);
  out->resize(bytes.size());
  return st;
}

}  // namespace

int ZstdWindowLogLimit(uint64_t max_out) {
  int log = kZstdMinWindowLog;
  while (log < kZstdMaxWindowLog && (uint64_t{1} << log) < max_out) ++log;
  return log;
}

bool ParseContentEncoding(std::string_view value, Compression* out) {
  std::string v(value);
  for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  if (v.empty() || v == "identity")
    *out = Compression::kNone;
  else if (v == "gzip" || v == "x-gzip")
    *out = Compression::kGzip;
  else if (v == "zstd")
    *out = Compression::kZstd;
  else if (v == "snappy")
    *out = Compression::kSnappyBlock;
  else
    return false;
  return true;
}

Status Decompress(Compression c, std::string_view in, uint64_t max_out, std::string* out) {
  out->clear();
  switch (c) {
    case Compression::kNone:
      if (in.size() > max_out) return TooLarge(max_out);
      out->assign(in);
      return Status::Ok();
    case Compression::kGzip:
      return Gunzip(in, max_out, out);
    case Compression::kZstd:
      return Unzstd(in, max_out, out);
    case Compression::kSnappyBlock:
      return Unsnappy(in, max_out, out);
  }
  return Status::Internal("unknown compression");
}

std::string Compress(Compression c, std::string_view in) {
  std::string out;
  switch (c) {
    case Compression::kNone:
      out.assign(in);
      break;
    case Compression::kGzip: {
      z_stream zs{};
      deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
      out.resize(deflateBound(&zs, in.size()) + 32);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = reinterpret_cast<Bytef*>(out.data());
      zs.avail_out = static_cast<uInt>(out.size());
      deflate(&zs, Z_FINISH);
      out.resize(zs.total_out);
      deflateEnd(&zs);
      break;
    }
    case Compression::kZstd:
      out.resize(ZSTD_compressBound(in.size()));
      out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3));
      break;
    case Compression::kSnappyBlock:
      snappy::Compress(in.data(), in.size(), &out);
      break;
  }
  return out;
}

std::string_view SnappyCompressInto(std::string_view in, std::string* scratch) {
  size_t max = snappy::MaxCompressedLength(in.size());
  // Grown only, so its bytes are zero-filled once, not per call.
  if (scratch->size() < max) scratch->resize(max);
  size_t length = 0;
  snappy::RawCompress(in.data(), in.size(), scratch->data(), &length);
  return std::string_view(scratch->data(), length);
}

Status SnappyDecompressInto(std::string_view in, uint64_t max_out, std::string* scratch,
                            std::string_view* out) {
  *out = {};
  size_t length = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &length)) {
    return Status::InvalidArgument("invalid snappy body: bad length header");
  }
  // The block format states its length up front: refuse before allocating.
  if (length > max_out) return TooLarge(max_out);
  if (scratch->size() < length) scratch->resize(length);
  if (!snappy::RawUncompress(in.data(), in.size(), scratch->data())) {
    return Status::InvalidArgument("invalid snappy body");
  }
  *out = std::string_view(scratch->data(), length);
  return Status::Ok();
}

}  // namespace sluice::wire
