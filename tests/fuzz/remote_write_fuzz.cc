// Any bytes as a snappy-compressed remote write body and as a decompressed
// WriteRequest: nothing may crash, and the filter keeps only valid series.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "wire/compression.h"
#include "wire/prom/remote_write.h"

namespace {
void Check(std::string_view request) {
  sluice::wire::prom::WriteInspection ins;
  if (!sluice::wire::prom::InspectWriteRequest(request, &ins).ok()) return;
  std::string kept = sluice::wire::prom::FilterWriteRequest(request, ins.series_ok);
  sluice::wire::prom::WriteInspection again;
  if (!sluice::wire::prom::InspectWriteRequest(kept, &again).ok() || again.rejected_series != 0) {
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(in);
  std::string body;
  if (sluice::wire::Decompress(sluice::wire::Compression::kSnappyBlock, in, 1 << 20, &body).ok()) {
    Check(body);
  }
  return 0;
}
