#include "exporters/loki/loki_exporter.h"

#include <algorithm>

#include "base/logging.h"
#include "base/strings.h"
#include "wire/compression.h"
#include "wire/otlp/common.h"
#include "wire/otlp/logs.h"
#include "wire/prom/labels.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::exporters::loki {
namespace {

using wire::ProtoReader;
using wire::WireType;

namespace field = wire::otlp::field;

constexpr const char* kRoute = "loki_push";

// Severity numbers 1-24 in groups of four: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.
const char* SeverityWord(uint64_t number) {
  static const char* kWords[] = {"trace", "debug", "info", "warn", "error", "fatal"};
  if (number < 1 || number > 24) return "unknown";
  return kWords[(number - 1) / 4];
}

// Field numbers of Loki's push API (package logproto, push.proto).
namespace push {
inline constexpr uint32_t kRequestStreams = 1;
inline constexpr uint32_t kStreamLabels = 1;
inline constexpr uint32_t kStreamEntries = 2;
inline constexpr uint32_t kEntryTimestamp = 1;  // google.protobuf.Timestamp
inline constexpr uint32_t kEntryLine = 2;
inline constexpr uint32_t kTimestampSeconds = 1;
inline constexpr uint32_t kTimestampNanos = 2;
}  // namespace push

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

const config::Schema<LokiOptions>& LokiOptionsSchema() {
  static const config::Schema<LokiOptions> schema = [] {
    config::Schema<LokiOptions> s("loki");
    s.String("endpoint", &LokiOptions::endpoint,
             "Push API URL, e.g. http://loki:3100/loki/api/v1/push.")
        .Required()
        .StringMap("headers", &LokiOptions::headers,
                   "Headers added to every request (X-Scope-OrgID here sends every entry to "
                   "one tenant).")
        .String("tenant_header", &LokiOptions::tenant_header, kTenantHeaderHelp)
        .Object("tls", &LokiOptions::tls, TlsClientOptionsSchema(),
                "Checks of the server's certificate for an https:// endpoint.")
        .StringMap("resource_labels", &LokiOptions::resource_labels,
                   "Resource attribute → stream label. Default: service.name → service_name.")
        .StringMap("attribute_labels", &LokiOptions::attribute_labels,
                   "Log record attribute → stream label.")
        .Bool("severity_label", &LokiOptions::severity_label,
              "Add a `level` stream label from the record's severity.")
        .Enum<LineFormat>("format", &LokiOptions::format,
                          {{"json", LineFormat::kJson}, {"raw", LineFormat::kRaw}},
                          "Log line: a JSON object with body, severity, attributes, resource "
                          "and trace context; or the body alone.")
        .Enum<PushEncoding>("encoding", &LokiOptions::encoding,
                            {{"json", PushEncoding::kJson}, {"protobuf", PushEncoding::kProtobuf}},
                            "Push request encoding: JSON (gzip per `gzip`), or Loki's protobuf "
                            "PushRequest compressed with snappy.")
        .Bool("gzip", &LokiOptions::gzip, "Compress request bodies with gzip.")
        .Duration("timeout", &LokiOptions::timeout,
                  "Limit on one attempt: connect, send and the answer.", {1e6L, 600e9L})
        .Bytes("max_request_bytes", &LokiOptions::max_request_bytes,
               "Entries are gathered into push requests of about this size.",
               {1024, 64.0L * 1024 * 1024})
        .Object("retry_on_failure", &LokiOptions::retry_on_failure, RetryOptionsSchema(), "")
        .Object("sending_queue", &LokiOptions::sending_queue, QueueOptionsSchema(),
                "num_consumers is the number of shards: each stream always goes to the same "
                "one, so its entries are sent in order.")
        .Enum("start_at", &LokiOptions::start_at, StartAtChoices(), kStartAtHelp)
        .Object("dead_letter", &LokiOptions::dead_letter, DeadLetterOptionsSchema(), "")
        .Check([](const LokiOptions& o) -> std::string {
          std::string bad = net::CheckClientConfig(o.endpoint, o.tls);
          if (!bad.empty()) return bad;
          for (const auto* list : {&o.resource_labels, &o.attribute_labels}) {
            for (const auto& [key, label] : *list) {
              if (!wire::prom::ValidLabelName(label)) {
                return "\"" + label + "\" (for " + key + ") is not a valid Loki label name";
              }
            }
          }
          return "";
        });
    return s;
  }();
  return schema;
}

LokiEncoder::LokiEncoder(const LokiOptions& options, size_t shards,
                         telemetry::Counter& unsupported_items)
    : options_(options), unsupported_items_(unsupported_items), shards_(shards) {}

void LokiEncoder::StreamKey(std::string_view resource, std::string_view record, std::string* out) {
  labels_.clear();
  std::string_view value;
  for (const auto& [key, label] : options_.resource_labels) {
    if (wire::otlp::FindAttribute(resource, wire::otlp::field::kResourceAttributes, key, &value)) {
      labels_.emplace_back(label, wire::otlp::AnyValueText(value));
    }
  }
  for (const auto& [key, label] : options_.attribute_labels) {
    if (wire::otlp::FindAttribute(record, field::kRecordAttributes, key, &value)) {
      labels_.emplace_back(label, wire::otlp::AnyValueText(value));
    }
  }
  if (options_.severity_label) {
    std::string level;
    uint64_t number = 0;
    ProtoReader r(record);
    while (r.Next()) {
      if (r.field() == field::kRecordSeverityText && r.Is(WireType::kLengthDelimited)) {
        level = Lower(r.bytes());
      } else if (r.field() == field::kRecordSeverityNumber && r.Is(WireType::kVarint)) {
        number = r.varint();
      }
    }
    if (level.empty()) level = SeverityWord(number);
    labels_.emplace_back("level", std::move(level));
  }
  // Loki needs at least one label per stream.
  if (labels_.empty()) labels_.emplace_back("exporter", "sluice");
  std::stable_sort(labels_.begin(), labels_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const bool selector = options_.encoding == PushEncoding::kProtobuf;
  out->clear();
  out->push_back('{');
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (i > 0 && labels_[i].first == labels_[i - 1].first) continue;  // first mapping wins
    if (selector) {
      if (out->size() > 1) *out += ", ";
      *out += labels_[i].first;  // a valid label name: checked at config load
      *out += '=';
      // JSON's escapes are all valid in a LogQL (Go) string literal.
      AppendJsonString(*out, labels_[i].second);
    } else {
      if (out->size() > 1) out->push_back(',');
      AppendJsonString(*out, labels_[i].first);
      out->push_back(':');
      AppendJsonString(*out, labels_[i].second);
    }
  }
  out->push_back('}');
}

void LokiEncoder::Line(std::string_view resource, std::string_view scope, std::string_view record,
                       std::string* out) {
  out->clear();
  std::string_view body;
  std::string_view severity_text;
  uint64_t severity_number = 0;
  std::string_view trace_id;
  std::string_view span_id;
  uint32_t flags = 0;
  ProtoReader r(record);
  while (r.Next()) {
    switch (r.field()) {
      case field::kRecordBody:
        body = r.bytes();
        break;
      case field::kRecordSeverityText:
        severity_text = r.bytes();
        break;
      case field::kRecordSeverityNumber:
        severity_number = r.varint();
        break;
      case field::kRecordTraceId:
        trace_id = r.bytes();
        break;
      case field::kRecordSpanId:
        span_id = r.bytes();
        break;
      case field::kRecordFlags:
        flags = r.fixed32();
        break;
      default:
        break;
    }
  }
  if (options_.format == LineFormat::kRaw) {
    *out = wire::otlp::AnyValueText(body);
    return;
  }
  *out += "{\"body\":";
  wire::otlp::AppendAnyValuePlainJson(*out, body);
  if (!severity_text.empty()) {
    *out += ",\"severity\":";
    AppendJsonString(*out, severity_text);
  } else if (severity_number > 0) {
    *out += ",\"severity\":";
    AppendJsonString(*out, SeverityWord(severity_number));
  }
  if (trace_id.size() == 16) {
    *out += ",\"traceid\":\"";
    AppendHex(*out, trace_id);
    *out += '"';
  }
  if (span_id.size() == 8) {
    *out += ",\"spanid\":\"";
    AppendHex(*out, span_id);
    *out += '"';
  }
  if (flags != 0) *out += ",\"flags\":" + std::to_string(flags);
  *out += ",\"attributes\":";
  wire::otlp::AppendAttributesPlainJson(*out, record, field::kRecordAttributes);
  *out += ",\"resources\":";
  wire::otlp::AppendAttributesPlainJson(*out, resource, wire::otlp::field::kResourceAttributes);
  std::string_view scope_name;
  ProtoReader s(scope);
  while (s.Next()) {
    if (s.field() == wire::otlp::field::kScopeName) scope_name = s.bytes();
  }
  if (!scope_name.empty()) {
    *out += ",\"instrumentation_scope\":{\"name\":";
    AppendJsonString(*out, scope_name);
    *out += '}';
  }
  *out += '}';
}

void LokiEncoder::Add(const log::LogReader::Batch& batch, uint64_t record, const EmitFn& emit) {
  if (batch.header.signal != log::Signal::kLogs ||
      batch.header.encoding != log::Encoding::kOtlpProto) {
    unsupported_items_.Inc(batch.header.item_count);
    return;
  }
  std::string key;
  std::string line;
  uint64_t taken = 0;
  ProtoReader req(batch.payload);
  while (req.Next()) {
    if (req.field() != field::kRequestResourceLogs || !req.Is(WireType::kLengthDelimited)) continue;
    std::string_view resource;
    ProtoReader rl(req.bytes());
    while (rl.Next()) {
      if (rl.field() == field::kResourceLogsResource) resource = rl.bytes();
    }
    ProtoReader rl2(req.bytes());
    while (rl2.Next()) {
      if (rl2.field() != field::kResourceLogsScopeLogs || !rl2.Is(WireType::kLengthDelimited)) {
        continue;
      }
      std::string_view scope;
      ProtoReader sl(rl2.bytes());
      while (sl.Next()) {
        if (sl.field() == field::kScopeLogsScope) scope = sl.bytes();
      }
      ProtoReader sl2(rl2.bytes());
      while (sl2.Next()) {
        if (sl2.field() != field::kScopeLogsRecords || !sl2.Is(WireType::kLengthDelimited)) {
          continue;
        }
        std::string_view rec = sl2.bytes();
        int64_t time = 0;
        int64_t observed = 0;
        ProtoReader t(rec);
        while (t.Next()) {
          if (t.field() == field::kRecordTime && t.Is(WireType::kFixed64)) {
            time = static_cast<int64_t>(t.fixed64());
          }
          if (t.field() == field::kRecordObservedTime && t.Is(WireType::kFixed64)) {
            observed = static_cast<int64_t>(t.fixed64());
          }
        }
        if (time == 0) time = observed != 0 ? observed : batch.header.append_unix_nanos;
        StreamKey(resource, rec, &key);
        Line(resource, scope, rec, &line);
        size_t i = std::hash<std::string>{}(key) % shards_.size();
        Shard& shard = shards_[i];
        if (shard.items == 0) shard.first_record = record;
        shard.bytes += line.size() + 32;
        auto [it, inserted] = shard.streams.try_emplace(key);
        if (inserted) shard.bytes += key.size() + 32;
        it->second.push_back(Entry{time, line});
        ++shard.items;
        ++taken;
        if (shard.bytes >= options_.max_request_bytes) EmitShard(i, emit);
      }
    }
  }
  if (taken < batch.header.item_count) unsupported_items_.Inc(batch.header.item_count - taken);
}

void LokiEncoder::EmitShard(size_t i, const EmitFn& emit) {
  Shard& shard = shards_[i];
  if (shard.items == 0) return;
  pipeline::OutboundRequest out;
  out.signal = log::Signal::kLogs;
  out.route = kRoute;
  out.items = shard.items;
  out.shard = static_cast<int>(i);
  out.first_record = shard.first_record;
  out.body.reserve(shard.bytes + 64);
  for (auto& [labels, entries] : shard.streams) {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.unix_nanos < b.unix_nanos; });
  }
  if (options_.encoding == PushEncoding::kProtobuf) {
    RenderProtobuf(shard, &out.body);
  } else {
    RenderJson(shard, &out.body);
  }
  shard.streams.clear();
  shard.bytes = 0;
  shard.items = 0;
  emit(std::move(out));
}

void LokiEncoder::RenderProtobuf(Shard& shard, std::string* body) {
  wire::ProtoWriter w(body);
  for (const auto& [labels, entries] : shard.streams) {
    size_t stream = w.BeginMessage(push::kRequestStreams);
    w.Bytes(push::kStreamLabels, labels);
    for (const Entry& e : entries) {
      size_t entry = w.BeginMessage(push::kStreamEntries);
      size_t ts = w.BeginMessage(push::kEntryTimestamp);
      // Timestamp: seconds and non-negative nanos (floor division).
      int64_t seconds = e.unix_nanos / 1'000'000'000;
      int64_t nanos = e.unix_nanos % 1'000'000'000;
      if (nanos < 0) {
        nanos += 1'000'000'000;
        --seconds;
      }
      if (seconds != 0) w.Varint(push::kTimestampSeconds, static_cast<uint64_t>(seconds));
      if (nanos != 0) w.Varint(push::kTimestampNanos, static_cast<uint64_t>(nanos));
      w.EndMessage(ts);
      w.Bytes(push::kEntryLine, e.line);
      w.EndMessage(entry);
    }
    w.EndMessage(stream);
  }
}

void LokiEncoder::RenderJson(Shard& shard, std::string* body) {
  std::string& out = *body;
  out += "{\"streams\":[";
  bool first_stream = true;
  for (auto& [labels, entries] : shard.streams) {
    if (!first_stream) out += ',';
    first_stream = false;
    out += "{\"stream\":";
    out += labels;
    out += ",\"values\":[";
    for (size_t e = 0; e < entries.size(); ++e) {
      if (e > 0) out += ',';
      out += "[\"";
      out += std::to_string(entries[e].unix_nanos);
      out += "\",";
      AppendJsonString(out, entries[e].line);
      out += ']';
    }
    out += "]}";
  }
  out += "]}";
}

void LokiEncoder::Flush(const EmitFn& emit) {
  for (size_t i = 0; i < shards_.size(); ++i) EmitShard(i, emit);
}

std::optional<uint64_t> LokiEncoder::OldestHeld() const {
  std::optional<uint64_t> oldest;
  for (const auto& s : shards_) {
    if (s.items > 0 && (!oldest || s.first_record < *oldest)) oldest = s.first_record;
  }
  return oldest;
}

namespace {

class LokiSender final : public pipeline::Sender {
 public:
  explicit LokiSender(const LokiOptions& options) : options_(options) {}

  pipeline::SendResult Send(const pipeline::OutboundRequest& request) override {
    if (!client_) {
      auto c = net::HttpClient::ForUrl(options_.endpoint, options_.timeout, options_.headers,
                                       &path_, options_.tls);
      // The configuration was checked at load; a TLS file gone since may come back.
      if (!c.ok()) return pipeline::SendResult::Retryable(c.status().message());
      client_ = std::move(c).value();
    }
    // The body says how it was encoded (a dead letter may predate a change
    // of `encoding`): a JSON push is an object, a PushRequest starts with
    // its streams field.
    const bool json = !request.body.empty() && request.body.front() == '{';
    net::Headers extra = {{"Content-Type", json ? "application/json" : "application/x-protobuf"}};
    AddTenantHeader(options_.tenant_header, options_.headers, request.tenant, &extra);
    std::string_view body = request.body;
    if (!json) {
      // Loki reads protobuf pushes as snappy blocks, without Content-Encoding.
      compressed_ = wire::Compress(wire::Compression::kSnappyBlock, request.body);
      body = compressed_;
    } else if (options_.gzip) {
      compressed_ = wire::Compress(wire::Compression::kGzip, request.body);
      body = compressed_;
      extra.emplace_back("Content-Encoding", "gzip");
    }
    return ClassifyHttp(client_->Post(path_, body, extra), "Loki");
  }

 private:
  // A copy: a sender may outlive the options it was made from (a factory's
  // captured copy, a parsed configuration), whatever order owners declare
  // them in.
  const LokiOptions options_;
  std::unique_ptr<net::HttpClient> client_;
  std::string path_;
  std::string compressed_;
};

}  // namespace

pipeline::ComponentType LokiExporterType() {
  pipeline::ComponentType t = pipeline::MakeExporterType(
      "loki", "Sends log records to Loki's push API, as streams labelled from attributes.",
      {log::Signal::kLogs}, LokiOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const LokiOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        return std::unique_ptr<pipeline::Exporter>(new RequestExporter(
            s, rt, o.start_at, o.retry_on_failure, o.sending_queue, o.dead_letter,
            [o](telemetry::Counter& unsupported) {
              return std::make_unique<LokiEncoder>(
                  o, static_cast<size_t>(o.sending_queue.num_consumers), unsupported);
            },
            [o] { return std::make_unique<LokiSender>(o); }));
      });
  return Feedable(pipeline::WithSender<LokiOptions>(
      std::move(t), [](const LokiOptions& o) -> std::unique_ptr<pipeline::Sender> {
        return std::make_unique<LokiSender>(o);
      }));
}

}  // namespace sluice::exporters::loki
