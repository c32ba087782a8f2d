#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/strings.h"

namespace sluice::exporters::postgresql {

// The storage layout the postgresql exporter writes, the one pgwatch's
// PostgreSQL sink uses (so its dashboards read it as they are):
//
//   CREATE TABLE <schema>.<table> (time timestamptz not null,
//       dbname text not null, data jsonb not null, tag_data jsonb)
//     PARTITION BY RANGE (time);
//   CREATE TABLE <schema>.<table>_y2026m12d06 PARTITION OF <schema>.<table>
//     FOR VALUES FROM ('2026-12-06 00:00:00+00') TO ('2026-12-07 00:00:00+00');
//
// and the text that crosses between the encoder and the sender: the rows in
// COPY's text format, and the request body that carries them (what the
// dead-letter queue keeps).

inline constexpr int64_t kSecondsPerHour = 3600;
inline constexpr int64_t kSecondsPerDay = 24 * kSecondsPerHour;
inline constexpr int64_t kSecondsPerWeek = 7 * kSecondsPerDay;
// PostgreSQL's NAMEDATALEN - 1: a longer identifier is silently truncated.
inline constexpr size_t kMaxIdentifierBytes = 63;

// True for the partition intervals the exporter supports: whole hours that
// divide a day (1h, 2h, 3h, 4h, 6h, 8h, 12h), a day, or a week. Partitions
// start at multiples of the interval from the Unix epoch (UTC), weeks on
// Mondays.
bool ValidPartitionInterval(int64_t seconds);
// The start (Unix seconds) of the partition holding `unix_seconds`.
// Requires ValidPartitionInterval(interval_seconds).
int64_t PartitionStart(int64_t unix_seconds, int64_t interval_seconds);
// "<table>_y<YYYY>m<MM>d<DD>" of the partition's first day, with "h<HH>"
// after it for intervals shorter than a day. A name longer than 63 bytes
// keeps a prefix of the table's name and 8 hex digits of its hash, so two
// long table names never share a partition name.
std::string PartitionName(std::string_view table, int64_t start, int64_t interval_seconds);

// The table of a series whose name no metric definition claims: the name
// in lower case, characters outside [a-z0-9_] made '_', a leading digit
// prefixed with '_', cut to 63 bytes.
std::string TableName(std::string_view name);
// `name` as a quoted SQL identifier: "name", with '"' doubled.
std::string QuoteIdentifier(std::string_view name);

// "YYYY-MM-DD HH:MM:SS.mmm+00": a timestamptz literal of Unix milliseconds.
std::string TimestampText(int64_t unix_millis);

// Appends `value` as a JSON number: an integer when it is integral and
// within ±2^53, else the shortest decimal that reads back to it. False (and
// nothing appended) for NaN and infinities, which JSON cannot hold.
bool AppendJsonNumber(std::string& out, double value);
// Appends `s` as a JSON string, leaving out NUL bytes (jsonb refuses \u0000).
inline void AppendJsonText(std::string& out, std::string_view s) {
  AppendJsonString(out, s, JsonNul::kOmit);
}
// Appends `s` escaped for one column of COPY's text format (backslash,
// newline, carriage return and tab), leaving out NUL bytes, which no text
// value can hold.
void AppendCopyEscaped(std::string& out, std::string_view s);

// One table's part of a request.
struct TableRows {
  std::string table;  // unquoted; the sender quotes it
  // The distinct hours (Unix seconds / 3600, floored) its rows fall in: the
  // sender finds its partitions from them, at its own partition_interval.
  std::vector<int64_t> hours;
  uint64_t rows = 0;
  // The rows in COPY's text format: time, dbname, data, tag_data, one line
  // each.
  std::string copy;
};

// A request body: a protobuf message with a version field (1) and one
// embedded message per table (field 2: table = 1, hours = 2 (varints),
// rows = 3, copy = 4), so a dead letter written by this version reads back
// in later ones.
inline constexpr uint64_t kRequestVersion = 1;
void EncodeRequest(const std::vector<TableRows>& tables, std::string* body);
// InvalidArgument for a body that is not a request of a known version.
Result<std::vector<TableRows>> DecodeRequest(std::string_view body);

}  // namespace sluice::exporters::postgresql
