#include "exporters/postgresql/rows.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::exporters::postgresql {
namespace {

// Field numbers of the request body (see rows.h).
namespace field {
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kTable = 2;
inline constexpr uint32_t kTableName = 1;
inline constexpr uint32_t kTableHours = 2;
inline constexpr uint32_t kTableRows = 3;
inline constexpr uint32_t kTableCopy = 4;
}  // namespace field

// 1970-01-01 was a Thursday: the first Monday is 4 days later.
constexpr int64_t kFirstMonday = 4 * kSecondsPerDay;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

struct Civil {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

// The proleptic Gregorian date of a day count from 1970-01-01 (the era
// arithmetic of 400-year cycles of 146097 days).
Civil CivilFromDays(int64_t days) {
  days += 719468;  // days from 0000-03-01 to 1970-01-01
  const int64_t era = FloorDiv(days, 146097);
  const int64_t doe = days - era * 146097;                                    // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11], from March
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

}  // namespace

bool ValidPartitionInterval(int64_t seconds) {
  if (seconds == kSecondsPerWeek || seconds == kSecondsPerDay) return true;
  return seconds > 0 && seconds % kSecondsPerHour == 0 && kSecondsPerDay % seconds == 0;
}

int64_t PartitionStart(int64_t unix_seconds, int64_t interval_seconds) {
  if (interval_seconds == kSecondsPerWeek) {
    return FloorDiv(unix_seconds - kFirstMonday, kSecondsPerWeek) * kSecondsPerWeek + kFirstMonday;
  }
  return FloorDiv(unix_seconds, interval_seconds) * interval_seconds;
}

std::string PartitionName(std::string_view table, int64_t start, int64_t interval_seconds) {
  const int64_t days = FloorDiv(start, kSecondsPerDay);
  const Civil c = CivilFromDays(days);
  char suffix[48];
  int n = std::snprintf(suffix, sizeof suffix, "_y%04lldm%02dd%02d", static_cast<long long>(c.year),
                        c.month, c.day);
  if (interval_seconds < kSecondsPerDay) {
    const int hour = static_cast<int>((start - days * kSecondsPerDay) / kSecondsPerHour);
    n += std::snprintf(suffix + n, sizeof suffix - static_cast<size_t>(n), "h%02d", hour);
  }
  const size_t suffix_len = static_cast<size_t>(n);
  std::string out;
  if (table.size() + suffix_len <= kMaxIdentifierBytes) {
    out.assign(table);
  } else {
    char hash[16];
    std::snprintf(hash, sizeof hash, "_%08x",
                  static_cast<unsigned>(XXH3_64bits(table.data(), table.size()) & 0xffffffffu));
    out.assign(table.substr(0, kMaxIdentifierBytes - suffix_len - 9));
    out += hash;
  }
  out.append(suffix, suffix_len);
  return out;
}

std::string TableName(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 1);
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
      out += c;
    } else {
      out += '_';
    }
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
  if (out.size() > kMaxIdentifierBytes) out.resize(kMaxIdentifierBytes);
  return out;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '\0') continue;
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string TimestampText(int64_t unix_millis) {
  const int64_t seconds = FloorDiv(unix_millis, 1000);
  const int millis = static_cast<int>(unix_millis - seconds * 1000);
  const int64_t days = FloorDiv(seconds, kSecondsPerDay);
  const int64_t in_day = seconds - days * kSecondsPerDay;
  const Civil c = CivilFromDays(days);
  char buf[64];
  int n =
      std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02d:%02d:%02d.%03d+00",
                    static_cast<long long>(c.year), c.month, c.day, static_cast<int>(in_day / 3600),
                    static_cast<int>(in_day / 60 % 60), static_cast<int>(in_day % 60), millis);
  return std::string(buf, static_cast<size_t>(n));
}

bool AppendJsonNumber(std::string& out, double value) {
  if (!std::isfinite(value)) return false;
  constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53
  char buf[32];
  std::to_chars_result r;
  if (value == std::trunc(value) && std::fabs(value) <= kMaxExactInteger) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value));  // -0.0 becomes 0
  } else {
    r = std::to_chars(buf, buf + sizeof buf, value);
  }
  out.append(buf, r.ptr);
  return true;
}

void AppendCopyEscaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '\0':
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += c;
    }
  }
}

void EncodeRequest(const std::vector<TableRows>& tables, std::string* body) {
  wire::ProtoWriter w(body);
  w.Varint(field::kVersion, kRequestVersion);
  for (const TableRows& t : tables) {
    size_t mark = w.BeginMessage(field::kTable);
    w.Bytes(field::kTableName, t.table);
    for (int64_t h : t.hours) w.Varint(field::kTableHours, static_cast<uint64_t>(h));
    w.Varint(field::kTableRows, t.rows);
    w.Bytes(field::kTableCopy, t.copy);
    w.EndMessage(mark);
  }
}

Result<std::vector<TableRows>> DecodeRequest(std::string_view body) {
  std::vector<TableRows> tables;
  uint64_t version = 0;
  wire::ProtoReader r(body);
  while (r.Next()) {
    if (r.field() == field::kVersion && r.Is(wire::WireType::kVarint)) {
      version = r.varint();
      continue;
    }
    if (r.field() != field::kTable || !r.Is(wire::WireType::kLengthDelimited)) continue;
    TableRows t;
    wire::ProtoReader tr(r.bytes());
    while (tr.Next()) {
      const bool bytes = tr.Is(wire::WireType::kLengthDelimited);
      const bool varint = tr.Is(wire::WireType::kVarint);
      if (!bytes && !varint) continue;
      switch (tr.field()) {
        case field::kTableName:
          if (bytes) t.table.assign(tr.bytes());
          break;
        case field::kTableHours:
          if (varint) t.hours.push_back(tr.as_int64());
          break;
        case field::kTableRows:
          if (varint) t.rows = tr.varint();
          break;
        case field::kTableCopy:
          if (bytes) t.copy.assign(tr.bytes());
          break;
        default:
          break;
      }
    }
    if (!tr.ok()) return Status::InvalidArgument(std::string("malformed table: ") + tr.error());
    if (t.table.empty()) return Status::InvalidArgument("a table without a name");
    tables.push_back(std::move(t));
  }
  if (!r.ok()) return Status::InvalidArgument(std::string("malformed request: ") + r.error());
  if (version != kRequestVersion) {
    return Status::InvalidArgument("not a postgresql exporter request of version " +
                                   std::to_string(kRequestVersion) + " (version " +
                                   std::to_string(version) + ")");
  }
  return tables;
}

}  // namespace sluice::exporters::postgresql
