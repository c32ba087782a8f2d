#include "wire/prom/exposition.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <string>
#include <vector>

namespace sluice::wire::prom {
namespace {

constexpr auto kText = ExpositionFormat::kText004;
constexpr auto kOm = ExpositionFormat::kOpenMetrics;

// A label value or HELP text escaped back as the exposition writes it, so
// expectations show every byte.
std::string Escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string ValueText(double v) {
  if (std::isnan(v)) {
    char bits[17];
    auto r = std::to_chars(bits, bits + sizeof bits, std::bit_cast<uint64_t>(v), 16);
    return "NaN(" + std::string(bits, r.ptr) + ")";
  }
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// One sample as a line: name{labels} value[ @ts] type:family[ help=".."][ unit=".."].
std::string Render(const ExpositionSample& s) {
  std::string out(s.name);
  if (!s.labels.empty()) {
    out += '{';
    for (size_t i = 0; i < s.labels.size(); ++i) {
      if (i > 0) out += ',';
      out += std::string(s.labels[i].name) + "=\"" + Escaped(s.labels[i].value) + "\"";
    }
    out += '}';
  }
  out += " " + ValueText(s.value);
  if (s.has_timestamp) out += " @" + std::to_string(s.timestamp_ms);
  out += " " + std::string(MetricTypeName(s.type)) + ":" + std::string(s.family);
  if (!s.help.empty()) out += " help=\"" + Escaped(s.help) + "\"";
  if (!s.unit.empty()) out += " unit=\"" + std::string(s.unit) + "\"";
  return out;
}

struct Outcome {
  std::vector<std::string> samples;
  Status status;
  uint64_t lines = 0;
};

// Feeds the chunks, stopping at the first error, then finishes.
Outcome Parse(ExpositionFormat format, const std::vector<std::string_view>& chunks,
              size_t max_line_bytes = 1 << 20) {
  ExpositionParser parser(format, max_line_bytes);
  Outcome out;
  auto on_sample = [&](const ExpositionSample& s) { out.samples.push_back(Render(s)); };
  for (std::string_view c : chunks) {
    out.status = parser.Feed(c, on_sample);
    if (!out.status.ok()) break;
  }
  if (out.status.ok()) out.status = parser.Finish(on_sample);
  out.lines = parser.lines();
  return out;
}

Outcome ParseWhole(ExpositionFormat format, std::string_view body,
                   size_t max_line_bytes = 1 << 20) {
  return Parse(format, {body}, max_line_bytes);
}

// The body cut at each of `cuts` (increasing offsets).
Outcome ParseCut(ExpositionFormat format, std::string_view body, const std::vector<size_t>& cuts,
                 size_t max_line_bytes = 1 << 20) {
  std::vector<std::string_view> chunks;
  size_t from = 0;
  for (size_t c : cuts) {
    chunks.push_back(body.substr(from, c - from));
    from = c;
  }
  chunks.push_back(body.substr(from));
  return Parse(format, chunks, max_line_bytes);
}

Outcome ParseEvery(ExpositionFormat format, std::string_view body, size_t step,
                   size_t max_line_bytes = 1 << 20) {
  std::vector<size_t> cuts;
  for (size_t c = step; c < body.size(); c += step) cuts.push_back(c);
  return ParseCut(format, body, cuts, max_line_bytes);
}

// The same outcome, however the body was cut: at every single position,
// into chunks of 1, 2, 3 and 7 bytes, and at every pair of positions
// `pair_stride` apart.
void ExpectSameAtEverySplit(ExpositionFormat format, std::string_view body,
                            size_t max_line_bytes = 1 << 20) {
  Outcome whole = ParseWhole(format, body, max_line_bytes);
  auto same = [&](const Outcome& o, const std::string& how) {
    EXPECT_EQ(o.samples, whole.samples) << how;
    EXPECT_EQ(o.status.ToString(), whole.status.ToString()) << how;
  };
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    same(ParseCut(format, body, {cut}, max_line_bytes), "cut at " + std::to_string(cut));
  }
  for (size_t step : {1, 2, 3, 7}) {
    same(ParseEvery(format, body, step, max_line_bytes), "chunks of " + std::to_string(step));
  }
  for (size_t a = 0; a < body.size(); a += 5) {
    for (size_t b = a; b <= body.size(); b += 11) {
      same(ParseCut(format, body, {a, b}, max_line_bytes),
           "cuts at " + std::to_string(a) + ", " + std::to_string(b));
    }
  }
}

const std::string kText004Body =
    "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
    "# TYPE node_cpu_seconds_total counter\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12345.67\n"
    "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 89.5 1700000000123\n"
    "# A comment that is not HELP or TYPE: skipped.\n"
    "\n"
    "# HELP http_request_duration_seconds Latency\\\\ of requests,\\nin seconds.\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{le=\"0.1\"} 3\n"
    "http_request_duration_seconds_bucket{le=\"+Inf\"} 5\n"
    "http_request_duration_seconds_sum 0.15\n"
    "http_request_duration_seconds_count 5\n"
    "# TYPE rpc_latency_seconds summary\n"
    "rpc_latency_seconds{quantile=\"0.5\"} NaN\n"
    "rpc_latency_seconds_sum +Inf\n"
    "rpc_latency_seconds_count -Inf\n"
    "unrelated_after_summary 0 -1000\n"
    "escapes{path=\"C:\\\\dir\\\\\\\"q\\\"\\nnext\",kept=\"a\\tb\"} 7\n"
    "\t spaced_out { a = \"1\" , b=\"2\", }\t 3   42  \n"
    "   \t\n"
    "# TYPE memory_bytes gauge\n"
    "memory_bytes 1.5e9\n"
    "memory_bytes_total 2\n"
    "utf8{name=\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c\"} 1\n";

const std::vector<std::string> kText004Samples = {
    R"(node_cpu_seconds_total{cpu="0",mode="idle"} 12345.67 counter:node_cpu_seconds_total help="Seconds the CPUs spent in each mode.")",
    R"(node_cpu_seconds_total{cpu="0",mode="user"} 89.5 @1700000000123 counter:node_cpu_seconds_total help="Seconds the CPUs spent in each mode.")",
    R"(http_request_duration_seconds_bucket{le="0.1"} 3 histogram:http_request_duration_seconds help="Latency\\ of requests,\nin seconds.")",
    R"(http_request_duration_seconds_bucket{le="+Inf"} 5 histogram:http_request_duration_seconds help="Latency\\ of requests,\nin seconds.")",
    R"(http_request_duration_seconds_sum 0.15 histogram:http_request_duration_seconds help="Latency\\ of requests,\nin seconds.")",
    R"(http_request_duration_seconds_count 5 histogram:http_request_duration_seconds help="Latency\\ of requests,\nin seconds.")",
    R"(rpc_latency_seconds{quantile="0.5"} NaN(7ff8000000000001) summary:rpc_latency_seconds)",
    R"(rpc_latency_seconds_sum +Inf summary:rpc_latency_seconds)",
    R"(rpc_latency_seconds_count -Inf summary:rpc_latency_seconds)",
    R"(unrelated_after_summary 0 @-1000 unknown:unrelated_after_summary)",
    R"(escapes{path="C:\\dir\\\"q\"\nnext",kept="a\\tb"} 7 unknown:escapes)",
    R"(spaced_out{a="1",b="2"} 3 @42 unknown:spaced_out)",
    R"(memory_bytes 1.5e+09 gauge:memory_bytes)",
    R"(memory_bytes_total 2 unknown:memory_bytes_total)",
    "utf8{name=\"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c\"} 1 unknown:utf8",
};

const std::string kOpenMetricsBody =
    "# TYPE acme_http_router_request_seconds summary\n"
    "# UNIT acme_http_router_request_seconds seconds\n"
    "# HELP acme_http_router_request_seconds Latency of ACME's \\\"router\\\".\n"
    "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
    "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
    "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
    "# TYPE go_goroutines gauge\n"
    "go_goroutines 69 1700000000.5\n"
    "# TYPE process_cpu_seconds counter\n"
    "# UNIT process_cpu_seconds seconds\n"
    "process_cpu_seconds_total 4.20072246e+06 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
    "process_cpu_seconds_created 1.7e9\n"
    "# TYPE foo histogram\n"
    "foo_bucket{le=\"0.0\"} 0\n"
    "foo_bucket{le=\"1e-05\"} 0 1.001 # {trace_id=\"a\\\"b\",span_id=\"c\"} 1e-06 1.5\n"
    "foo_bucket{le=\"+Inf\"} 17 # {} 2\n"
    "foo_count 17\n"
    "foo_sum 324789.3\n"
    "# TYPE build info\n"
    "build_info{version=\"1.0\"} 1\n"
    "# TYPE door stateset\n"
    "door{door=\"open\"} 1\n"
    "door{door=\"closed\"} 0\n"
    "# TYPE queue gaugehistogram\n"
    "queue_bucket{le=\"+Inf\"} 3\n"
    "queue_gcount 3\n"
    "queue_gsum 5\n"
    "# TYPE mystery unknown\n"
    "mystery -inf\n"
    "# EOF\n";

const std::vector<std::string> kOpenMetricsSamples = {
    R"(acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32 summary:acme_http_router_request_seconds help="Latency of ACME's \"router\"." unit="seconds")",
    R"(acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283 summary:acme_http_router_request_seconds help="Latency of ACME's \"router\"." unit="seconds")",
    R"(acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325 summary:acme_http_router_request_seconds help="Latency of ACME's \"router\"." unit="seconds")",
    R"(go_goroutines 69 @1700000000500 gauge:go_goroutines)",
    R"(process_cpu_seconds_total 4200722.46 counter:process_cpu_seconds unit="seconds")",
    R"(process_cpu_seconds_created 1.7e+09 counter:process_cpu_seconds unit="seconds")",
    R"(foo_bucket{le="0.0"} 0 histogram:foo)",
    R"(foo_bucket{le="1e-05"} 0 @1001 histogram:foo)",
    R"(foo_bucket{le="+Inf"} 17 histogram:foo)",
    R"(foo_count 17 histogram:foo)",
    R"(foo_sum 324789.3 histogram:foo)",
    R"(build_info{version="1.0"} 1 info:build)",
    R"(door{door="open"} 1 stateset:door)",
    R"(door{door="closed"} 0 stateset:door)",
    R"(queue_bucket{le="+Inf"} 3 gaugehistogram:queue)",
    R"(queue_gcount 3 gaugehistogram:queue)",
    R"(queue_gsum 5 gaugehistogram:queue)",
    R"(mystery -Inf unknown:mystery)",
};

TEST(ExpositionTest, EverySampleOfARealisticText004BodyIsParsedExactly) {
  Outcome o = ParseWhole(kText, kText004Body);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.samples, kText004Samples);
  EXPECT_EQ(o.lines, 24u);
}

TEST(ExpositionTest, EverySampleOfARealisticOpenMetricsBodyIsParsedExactly) {
  Outcome o = ParseWhole(kOm, kOpenMetricsBody);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.samples, kOpenMetricsSamples);
  EXPECT_EQ(o.lines, 30u);
}

TEST(ExpositionTest, SplittingAText004BodyAnywhereChangesNothing) {
  ExpectSameAtEverySplit(kText, kText004Body);
  // A body without its last newline, and one that fails half way.
  ExpectSameAtEverySplit(kText, kText004Body.substr(0, kText004Body.size() - 1));
  ExpectSameAtEverySplit(kText, kText004Body.substr(0, 400) + "bad{ 1\n" + kText004Body);
}

TEST(ExpositionTest, SplittingAnOpenMetricsBodyAnywhereChangesNothing) {
  ExpectSameAtEverySplit(kOm, kOpenMetricsBody);
  ExpectSameAtEverySplit(kOm, kOpenMetricsBody.substr(0, kOpenMetricsBody.size() - 1));
  ExpectSameAtEverySplit(kOm, kOpenMetricsBody.substr(0, kOpenMetricsBody.size() - 3));
  ExpectSameAtEverySplit(kOm, kOpenMetricsBody + "extra 1\n");
}

TEST(ExpositionTest, SplitInsideAUtf8SequenceChangesNothing) {
  const std::string body = "utf8{a=\"\xe4\xb8\x96\",b=\"\xf0\x9f\x98\x80\"} 1\n";
  Outcome whole = ParseWhole(kText, body);
  ASSERT_TRUE(whole.status.ok());
  ASSERT_EQ(whole.samples.size(), 1u);
  ExpectSameAtEverySplit(kText, body);
}

struct Malformed {
  std::string line;
  std::string reason;  // a part of the message
};

// Each line, put third after two good ones, fails the parse naming line 3;
// the good sample before it has been delivered.
void ExpectEachMalformedLineFails(ExpositionFormat format, const std::string& head,
                                  const std::vector<Malformed>& cases) {
  for (const auto& c : cases) {
    std::string body = head + c.line + "\nafter 1\n";
    if (format == kOm) body += "# EOF\n";
    Outcome o = ParseWhole(format, body);
    EXPECT_EQ(o.status.code(), StatusCode::kInvalidArgument) << Escaped(c.line);
    EXPECT_EQ(o.status.message().rfind("line 3: ", 0), 0u)
        << Escaped(c.line) << ": " << o.status.message();
    EXPECT_NE(o.status.message().find(c.reason), std::string::npos)
        << Escaped(c.line) << ": " << o.status.message();
    EXPECT_EQ(o.samples.size(), 1u) << Escaped(c.line);
  }
}

TEST(ExpositionTest, MalformedText004LineIsInvalidArgumentNamingItsLine) {
  ExpectEachMalformedLineFails(kText, "# TYPE ok gauge\nok 1\n",
                               {
                                   {"9metric 1", "expected a metric name"},
                                   {"{a=\"b\"} 1", "expected a metric name"},
                                   {"metric-name 1", "invalid character in metric name"},
                                   {"metric{9a=\"b\"} 1", "invalid label name"},
                                   {"metric{a=\"b\" 1", "expected , or }"},
                                   {"metric{a=b} 1", "expected a quoted value"},
                                   {"metric{a \"b\"} 1", "expected = after label name"},
                                   {"metric{a=\"b} 1", "unterminated value"},
                                   {"metric{a=\"b\\\"} 1", "unterminated value"},
                                   {"metric{a=\"b\",", "unterminated label set"},
                                   {"metric{,} 1", "invalid label name"},
                                   {"metric{a=\"1\",,} 1", "invalid label name"},
                                   {"metric{a=\"1\",a=\"2\"} 1", "duplicate label name \"a\""},
                                   {"metric{a=\"\xff\"} 1", "not UTF-8"},
                                   {"metric{a=\"\xe4\xb8\"} 1", "not UTF-8"},
                                   {"metric", "missing value"},
                                   {"metric{a=\"b\"}  ", "missing value"},
                                   {"metric 1 2 3", "unexpected text after the timestamp"},
                                   {"metric 1 1.5", "invalid timestamp"},
                                   {"metric 1 9223372036854775808", "invalid timestamp"},
                                   {"metric 1 +-5", "invalid timestamp"},
                                   {"metric abc", "invalid value"},
                                   {"metric 0x10", "invalid value"},
                                   {"metric 0x1p3", "invalid value"},
                                   {"metric 1_000", "invalid value"},
                                   {"metric +NaN", "invalid value"},
                                   {"metric 1e400", "invalid value"},
                                   {"metric 1\r", "invalid value"},
                                   {"metric 1 # {a=\"b\"} 1", "invalid timestamp"},
                                   {"# TYPE metric bogus", "invalid metric type"},
                                   {"# TYPE metric gaugehistogram", "invalid metric type"},
                                   {"# TYPE metric counter extra", "invalid metric type"},
                                   {"# TYPE metric", "invalid metric type"},
                                   {"# TYPE", "TYPE line without a metric name"},
                                   {"# HELP", "HELP line without a metric name"},
                                   {"# HELP 9x help", "invalid metric name"},
                                   {"# HELP x \xc3", "not UTF-8"},
                               });
}

TEST(ExpositionTest, MalformedOpenMetricsLineIsInvalidArgumentNamingItsLine) {
  ExpectEachMalformedLineFails(
      kOm, "# TYPE ok gauge\nok 1\n",
      {
          {"", "empty line"},
          {" metric 1", "expected a metric name"},
          {"# a comment", "invalid comment"},
          {"#", "invalid comment"},
          {"# EOF ", "invalid comment"},
          {"metric  1", "missing value"},
          {"metric\t1", "invalid character in metric name"},
          {"metric{a=\"1\"}\t1", "expected a space before the value"},
          {"metric 1 ", "invalid timestamp \"\""},
          {"metric 1 2 ", "expected an exemplar (# {...}) after the timestamp"},
          {"metric 1 2 3", "expected an exemplar (# {...}) after the timestamp"},
          {"metric{a=\"1\",} 1", "invalid label name"},
          {"metric{a=\"1\", b=\"2\"} 1", "invalid label name"},
          {"metric{a = \"1\"} 1", "expected = after label name"},
          {"metric{a=\"1\",a=\"2\"} 1", "duplicate label name"},
          {"metric 1 NaN", "invalid timestamp"},
          {"metric 1 Inf", "invalid timestamp"},
          {"metric 1 1e300", "invalid timestamp"},
          {"metric 1 # {a=\"b\"}", "missing exemplar value"},
          {"metric 1 # {a=\"b\"} x", "invalid exemplar value"},
          {"metric 1 # {a=\"b\"} 1 x", "invalid exemplar timestamp"},
          {"metric 1 # {a=\"b\",a=\"c\"} 1", "duplicate label name"},
          {"metric 1 #{a=\"b\"} 1", "expected an exemplar"},
          {"metric 1 # 1", "expected an exemplar"},
          {"# TYPE metric untyped", "invalid metric type"},
          {"# TYPE metric  gauge", "invalid metric type"},
          {"# TYPE metric", "invalid metric type"},
          {"# TYPE  metric gauge", "invalid metric name in TYPE line"},
          {"# HELP metric\ttext", "invalid metric name in HELP line"},
          {"# UNIT metric_bytes seconds", "not the suffix of the metric name"},
          {"# UNIT bytes bytes", "not the suffix of the metric name"},
          {"# UNIT metric_bytes by-tes", "invalid unit"},
      });
}

TEST(ExpositionTest, OpenMetricsWithoutEofIsAnError) {
  Outcome o = ParseWhole(kOm, "# TYPE a gauge\na 1\n");
  EXPECT_EQ(o.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(o.status.message(), "line 2: OpenMetrics body ends without \"# EOF\"");
  EXPECT_EQ(o.samples.size(), 1u);
  EXPECT_EQ(ParseWhole(kOm, "").status.message(),
            "line 1: OpenMetrics body is empty (no \"# EOF\")");
  // 0.0.4 has no such line: an empty body is a scrape of nothing.
  EXPECT_TRUE(ParseWhole(kText, "").status.ok());
}

TEST(ExpositionTest, OpenMetricsEofWithOrWithoutNewlineEndsTheBody) {
  EXPECT_TRUE(ParseWhole(kOm, "a 1\n# EOF\n").status.ok());
  EXPECT_TRUE(ParseWhole(kOm, "a 1\n# EOF").status.ok());
  EXPECT_TRUE(ParseWhole(kOm, "# EOF").status.ok());
}

TEST(ExpositionTest, AnythingAfterOpenMetricsEofIsAnError) {
  for (std::string tail : {"\n", "a 1\n", "# EOF\n", "x"}) {
    Outcome o = ParseWhole(kOm, "a 1\n# EOF\n" + tail);
    EXPECT_EQ(o.status.code(), StatusCode::kInvalidArgument) << Escaped(tail);
    EXPECT_EQ(o.status.message(), "line 3: content after \"# EOF\"") << Escaped(tail);
    EXPECT_EQ(o.samples.size(), 1u);
  }
  // Fed separately, the byte after it fails its own Feed.
  ExpositionParser p(kOm);
  auto ignore = [](const ExpositionSample&) {};
  ASSERT_TRUE(p.Feed("# EOF\n", ignore).ok());
  EXPECT_FALSE(p.Feed("\n", ignore).ok());
}

TEST(ExpositionTest, LineLongerThanTheLimitIsAnErrorBeforeItsEndArrives) {
  constexpr size_t kLimit = 32;
  std::string at_limit = "m{a=\"" + std::string(kLimit - 9, 'x') + "\"} 1";
  ASSERT_EQ(at_limit.size(), kLimit);
  EXPECT_TRUE(ParseWhole(kText, "short 1\n" + at_limit + "\n", kLimit).status.ok());

  std::string over = "short 1\nm{a=\"" + std::string(kLimit - 8, 'x') + "\"} 1\n";
  Outcome whole = ParseWhole(kText, over, kLimit);
  EXPECT_EQ(whole.status.message(), "line 2: longer than the limit of 32 bytes per line");
  EXPECT_EQ(whole.samples.size(), 1u);
  // Fed a byte at a time, the error comes at the byte past the limit, not
  // at the newline: what is held for one line stays bounded.
  ExpositionParser p(kText, kLimit);
  auto ignore = [](const ExpositionSample&) {};
  size_t failed_at = 0;
  for (size_t i = 0; i < over.size(); ++i) {
    if (!p.Feed(over.substr(i, 1), ignore).ok()) {
      failed_at = i;
      break;
    }
  }
  EXPECT_EQ(failed_at, 8 + kLimit);
  ExpectSameAtEverySplit(kText, over, kLimit);
  // A last line without a newline is held to the same limit.
  EXPECT_EQ(ParseWhole(kText, "short 1\n" + std::string(kLimit + 1, 'y'), kLimit).status.message(),
            "line 2: longer than the limit of 32 bytes per line");
}

TEST(ExpositionTest, DuplicateLabelNameIsAnErrorInShortAndLongLabelSets) {
  std::string many = "m{";
  for (int i = 0; i < 40; ++i) many += "l" + std::to_string(i) + "=\"v\",";
  std::string unique = many + "l40=\"v\"} 1\n";
  std::string repeated = many + "l17=\"w\"} 1\n";
  Outcome ok = ParseWhole(kText, unique);
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString();
  EXPECT_EQ(ParseWhole(kText, repeated).status.message(), "line 1: duplicate label name \"l17\"");
  EXPECT_EQ(ParseWhole(kText, "m{a=\"1\",b=\"2\",a=\"3\"} 1\n").status.message(),
            "line 1: duplicate label name \"a\"");
  // A label called __name__ is kept as written, and counts as a label.
  Outcome named = ParseWhole(kText, "m{__name__=\"x\"} 1\n");
  ASSERT_TRUE(named.status.ok());
  EXPECT_EQ(named.samples[0], R"(m{__name__="x"} 1 unknown:m)");
}

TEST(ExpositionTest, ErrorIsStickyAcrossFeedAndFinish) {
  ExpositionParser p(kText);
  int samples = 0;
  auto count = [&](const ExpositionSample&) { ++samples; };
  ASSERT_TRUE(p.Feed("a 1\nb{ 2\nc 3\n", count).code() == StatusCode::kInvalidArgument);
  EXPECT_EQ(samples, 1);
  Status again = p.Feed("d 4\n", count);
  EXPECT_EQ(again.message(), "line 2: invalid label name starting at \"2\"");
  EXPECT_EQ(p.Finish(count).message(), again.message());
  EXPECT_EQ(samples, 1);
}

TEST(ExpositionTest, LastLineWithoutNewlineIsParsedByFinishOnly) {
  ExpositionParser p(kText);
  std::vector<std::string> got;
  auto on = [&](const ExpositionSample& s) { got.push_back(Render(s)); };
  ASSERT_TRUE(p.Feed("a 1\nb 2", on).ok());
  ASSERT_TRUE(p.Feed(std::string_view(), on).ok());
  EXPECT_EQ(got.size(), 1u);
  ASSERT_TRUE(p.Finish(on).ok());
  EXPECT_EQ(got, (std::vector<std::string>{"a 1 unknown:a", "b 2 unknown:b"}));
  EXPECT_EQ(p.lines(), 2u);
  EXPECT_EQ(p.samples(), 2u);
  EXPECT_EQ(p.Feed("c 3\n", on).code(), StatusCode::kFailedPrecondition);
}

TEST(ExpositionTest, ValuesParseAsPrometheusParsesThem) {
  struct Case {
    std::string text;
    std::string value;  // ValueText, or "" for an error
  };
  const std::vector<Case> cases = {
      {"1", "1"},
      {"-1.5e3", "-1500"},
      {"+2", "2"},
      {".5", "0.5"},
      {"5.", "5"},
      {"-0", "-0"},
      {"007", "7"},
      {"1E2", "100"},
      {"1e-400", "0"},
      {"-1e-400", "-0"},
      {"1.7976931348623157e308", "1.7976931348623157e+308"},
      {"+Inf", "+Inf"},
      {"-Inf", "-Inf"},
      {"Inf", "+Inf"},
      {"inf", "+Inf"},
      {"INFINITY", "+Inf"},
      {"-infinity", "-Inf"},
      {"NaN", "NaN(7ff8000000000001)"},
      {"nan", "NaN(7ff8000000000001)"},
      {"+NaN", ""},
      {"-nan", ""},
      {"infinit", ""},
      {"nan(1)", ""},
      {"1e400", ""},
      {"-1e400", ""},
      {"1e", ""},
      {"1e+", ""},
      {".", ""},
      {"+", ""},
      {"--1", ""},
      {"+-1", ""},
      {"0x10", ""},
      {"0x1p3", ""},
      {"1_000", ""},
      {"1,5", ""},
  };
  for (auto format : {kText, kOm}) {
    for (const auto& c : cases) {
      std::string body = "m " + c.text + "\n";
      if (format == kOm) body += "# EOF\n";
      Outcome o = ParseWhole(format, body);
      if (c.value.empty()) {
        EXPECT_EQ(o.status.message(), "line 1: invalid value \"" + c.text + "\"") << c.text;
      } else {
        ASSERT_TRUE(o.status.ok()) << c.text << ": " << o.status.ToString();
        EXPECT_EQ(o.samples[0], "m " + c.value + " unknown:m") << c.text;
      }
    }
  }
}

TEST(ExpositionTest, TimestampsAreIntegerMillisIn004AndFloatSecondsInOpenMetrics) {
  auto ts = [](ExpositionFormat f, const std::string& t) -> std::string {
    Outcome o = ParseWhole(f, "m 1 " + t + "\n" + (f == kOm ? "# EOF\n" : ""));
    if (!o.status.ok()) return "error";
    return o.samples[0].substr(o.samples[0].find('@') + 1, o.samples[0].find(' ', 4) - 5);
  };
  EXPECT_EQ(ts(kText, "1700000000123"), "1700000000123");
  EXPECT_EQ(ts(kText, "-5"), "-5");
  EXPECT_EQ(ts(kText, "+5"), "5");
  EXPECT_EQ(ts(kText, "9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(ts(kText, "-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(ts(kText, "-9223372036854775809"), "error");
  EXPECT_EQ(ts(kText, "1.5"), "error");
  EXPECT_EQ(ts(kText, "1e3"), "error");

  EXPECT_EQ(ts(kOm, "1700000000.123"), "1700000000123");
  EXPECT_EQ(ts(kOm, "1.001"), "1001");  // not 1000, as truncating the product would give
  EXPECT_EQ(ts(kOm, "1700000000"), "1700000000000");
  EXPECT_EQ(ts(kOm, "-1.5"), "-1500");
  EXPECT_EQ(ts(kOm, "1.7e9"), "1700000000000");
  EXPECT_EQ(ts(kOm, "9.2e15"), "9200000000000000000");
  EXPECT_EQ(ts(kOm, "9.3e15"), "error");  // past int64 in ms
  EXPECT_EQ(ts(kOm, "NaN"), "error");
  EXPECT_EQ(ts(kOm, "+Inf"), "error");
}

TEST(ExpositionTest, SampleOutsideTheLastDeclaredFamilyHasNoType) {
  Outcome o = ParseWhole(kText,
                         "# TYPE a histogram\n"
                         "# HELP b about b\n"
                         "a_bucket{le=\"1\"} 1\n"
                         "b 2\n"
                         "b_total 3\n"
                         "# TYPE c counter\n"
                         "c_total 4\n"
                         "c_created 5\n"
                         "c_count 6\n"
                         "cx 7\n");
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.samples, (std::vector<std::string>{
                           "a_bucket{le=\"1\"} 1 unknown:a_bucket",
                           "b 2 unknown:b help=\"about b\"",
                           "b_total 3 unknown:b_total",
                           "c_total 4 counter:c",
                           "c_created 5 counter:c",
                           "c_count 6 unknown:c_count",
                           "cx 7 unknown:cx",
                       }));
}

TEST(ExpositionTest, TypeOfTheOtherFormatIsRefused) {
  EXPECT_TRUE(ParseWhole(kText, "# TYPE a untyped\na 1\n").status.ok());
  EXPECT_FALSE(ParseWhole(kText, "# TYPE a info\na_info 1\n").status.ok());
  EXPECT_TRUE(ParseWhole(kOm, "# TYPE a info\na_info 1\n# EOF\n").status.ok());
  EXPECT_FALSE(ParseWhole(kOm, "# TYPE a untyped\na 1\n# EOF\n").status.ok());
}

TEST(ExpositionTest, HelpUnescapesOnlyWhatItsFormatEscapes) {
  Outcome text = ParseWhole(kText, "# HELP a x\\\\y\\nz\\\"q\\t\na 1\n");
  ASSERT_TRUE(text.status.ok());
  // 0.0.4: \" and \t stay as written.
  EXPECT_EQ(text.samples[0], R"(a 1 unknown:a help="x\\y\nz\\\"q\\t")");
  Outcome om = ParseWhole(kOm, "# HELP a x\\\\y\\nz\\\"q\\t\na 1\n# EOF\n");
  ASSERT_TRUE(om.status.ok());
  EXPECT_EQ(om.samples[0], R"(a 1 unknown:a help="x\\y\nz\"q\\t")");
}

TEST(ExpositionTest, ResetReusesTheParserForTheNextScrape) {
  ExpositionParser p(kText);
  std::vector<std::string> got;
  auto on = [&](const ExpositionSample& s) { got.push_back(Render(s)); };
  ASSERT_FALSE(p.Feed("# TYPE a counter\na_total 1\nbad{\n", on).ok());
  p.Reset(kOm);
  got.clear();
  ASSERT_TRUE(p.Feed("a_total 2\n# EOF\n", on).ok());
  ASSERT_TRUE(p.Finish(on).ok());
  // The family of the previous scrape is forgotten.
  EXPECT_EQ(got, std::vector<std::string>{"a_total 2 unknown:a_total"});
  EXPECT_EQ(p.lines(), 2u);
}

TEST(ExpositionTest, ContentTypeNamesTheFormat) {
  EXPECT_EQ(FormatOfContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"), kOm);
  EXPECT_EQ(FormatOfContentType("application/openmetrics-text"), kOm);
  EXPECT_EQ(FormatOfContentType(" Application/OpenMetrics-Text ;version=0.0.1"), kOm);
  EXPECT_EQ(FormatOfContentType("text/plain; version=0.0.4; charset=utf-8"), kText);
  EXPECT_EQ(FormatOfContentType(""), kText);
  EXPECT_EQ(FormatOfContentType("application/vnd.google.protobuf"), kText);
  EXPECT_EQ(FormatOfContentType("application/openmetrics-textx"), kText);
  EXPECT_EQ(FormatOfContentType("application\x0fopenmetrics-text"), kText);
}

}  // namespace
}  // namespace sluice::wire::prom
