#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "prometheus/remote.pb.h"
#include "support/stored_batches.h"

namespace sluice::testing {

struct StoredPoint {
  double value;
  int64_t timestamp_ms;
  // Prometheus' stale marker.
  bool stale() const { return std::bit_cast<uint64_t>(value) == 0x7ff0000000000002ull; }
};

// A series written as name{a="1",b="2"} (labels sorted, __name__ first).
inline std::string SeriesKey(const ::prometheus::TimeSeries& ts) {
  std::string name, rest;
  for (const auto& l : ts.labels()) {
    if (l.name() == "__name__") {
      name = l.value();
    } else {
      rest += (rest.empty() ? "" : ",") + l.name() + "=\"" + l.value() + "\"";
    }
  }
  return name + "{" + rest + "}";
}

// Every sample of the remote write batches in the log under `directory`
// (its service stopped), by series in order. Checks each batch's labels are
// sorted and unique and its item count is its samples.
inline std::map<std::string, std::vector<StoredPoint>> ReadStoredSamples(
    const std::string& directory) {
  std::map<std::string, std::vector<StoredPoint>> out;
  for (const StoredBatch& b : ReadStoredBatches(directory)) {
    EXPECT_EQ(b.header.encoding, log::Encoding::kPromRemoteWriteProto);
    ::prometheus::WriteRequest req;
    EXPECT_TRUE(req.ParseFromArray(b.payload.data(), static_cast<int>(b.payload.size())));
    uint64_t items = 0;
    for (const auto& ts : req.timeseries()) {
      std::string last;
      for (const auto& l : ts.labels()) {
        EXPECT_LT(last, l.name()) << "labels sorted by name, without repeats";
        last = l.name();
      }
      for (const auto& s : ts.samples()) out[SeriesKey(ts)].push_back({s.value(), s.timestamp()});
      items += static_cast<uint64_t>(ts.samples_size());
    }
    EXPECT_EQ(b.header.item_count, items);
  }
  return out;
}

}  // namespace sluice::testing
