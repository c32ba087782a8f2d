#include "exporters/kafka/kafka_exporter.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <thread>
#include <unordered_map>

#include "base/logging.h"
#include "exporters/kafka/rdkafka.h"
#include "pipeline/read_loop.h"
#include "wire/otlp/common.h"
#include "wire/otlp/inspect.h"
#include "wire/otlp/traces.h"
#include "wire/proto_reader.h"
#include "wire/proto_writer.h"

namespace sluice::exporters::kafka {
namespace {

namespace field = wire::otlp::field;
using wire::ProtoReader;
using wire::WireType;

// Export{Trace,Metrics,Logs}ServiceRequest all hold their resource
// containers at field 1, and each container its Resource at field 1.
constexpr uint32_t kRequestResources = field::kRequestResourceSpans;
constexpr uint32_t kContainerResource = field::kResourceSpansResource;
constexpr std::string_view kServiceNameKey = "service.name";
// The tenant travels with each message as this header, named as the
// receivers' tenant header.
constexpr const char* kTenantHeader = "x-scope-orgid";

// The librdkafka delivery timeout is the one bound on a flush: by then every
// message has been acknowledged or reported failed. The margin covers the
// report's way back.
constexpr std::chrono::milliseconds kFlushMargin{1000};
constexpr std::chrono::milliseconds kFirstResendBackoff{100};
constexpr std::chrono::milliseconds kMaxResendBackoff{30'000};
// Between attempts to write a dead letter, as the request exporters wait.
constexpr std::chrono::milliseconds kFirstDeadLetterBackoff{100};
constexpr std::chrono::milliseconds kMaxDeadLetterBackoff{10'000};
constexpr std::chrono::seconds kUnsupportedWarningInterval{60};
constexpr uint64_t kMaxQueuedBytes = 64u << 20;

Status Malformed(const char* what, const ProtoReader& r) {
  return Status::InvalidArgument(std::string(what) + ": " +
                                 (r.ok() ? "wrong wire type" : r.error()));
}

// The service.name attribute of a Resource{Spans,Metrics,Logs}; empty when
// there is none.
Status ServiceNameOf(std::string_view container, std::string_view* name) {
  *name = {};
  ProtoReader c(container);
  while (c.Next()) {
    if (c.field() != kContainerResource) continue;
    if (!c.Is(WireType::kLengthDelimited)) return Malformed("resource", c);
    ProtoReader resource(c.bytes());
    while (resource.Next()) {
      if (resource.field() != field::kResourceAttributes) continue;
      if (!resource.Is(WireType::kLengthDelimited)) return Malformed("attribute", resource);
      std::string_view key;
      std::string_view value;
      ProtoReader kv(resource.bytes());
      while (kv.Next()) {
        if (!kv.Is(WireType::kLengthDelimited)) continue;
        if (kv.field() == field::kKeyValueKey) key = kv.bytes();
        if (kv.field() == field::kKeyValueValue) value = kv.bytes();
      }
      if (!kv.ok()) return Malformed("attribute", kv);
      if (key != kServiceNameKey) continue;
      ProtoReader any(value);
      while (any.Next()) {
        if (any.field() == field::kAnyString && any.Is(WireType::kLengthDelimited)) {
          *name = any.bytes();
        }
      }
      if (!any.ok()) return Malformed("service.name", any);
    }
    if (!resource.ok()) return Malformed("resource", resource);
  }
  if (!c.ok()) return Malformed("resource container", c);
  return Status::Ok();
}

// Errors that sending the same message again cannot cure.
bool IsPermanent(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
      return true;
    default:
      return false;
  }
}

std::string_view AcksName(Acks a) {
  switch (a) {
    case Acks::kNone:
      return "0";
    case Acks::kLeader:
      return "1";
    case Acks::kAll:
      return "all";
  }
  return "all";
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "none";
}

// Kafka's rule for topic names: 1 to 249 of [a-zA-Z0-9._-], not "." or "..".
std::string CheckTopic(const char* key, const std::string& topic) {
  bool valid = !topic.empty() && topic.size() <= 249 && topic != "." && topic != "..";
  for (char ch : topic) {
    valid = valid && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-');
  }
  if (valid) return "";
  return std::string(key) + " \"" + topic +
         "\" is not a valid Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-')";
}

// A librdkafka configuration with the options applied; InvalidArgument naming
// the property librdkafka refused.
Result<rd_kafka_conf_t*> NewConf(const KafkaOptions& options) {
  // Every producer starts from a configuration, so librdkafka is opened here.
  SLUICE_RETURN_IF_ERROR(LoadRdKafka().status());
  rd_kafka_conf_t* conf = Rdk().rd_kafka_conf_new();
  char error[512];
  for (const auto& [key, value] : ProducerProperties(options)) {
    if (Rdk().rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      Rdk().rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("kafka producer property " + key + "=" + value + ": " + error);
    }
  }
  return conf;
}

struct KafkaMetrics {
  KafkaMetrics(telemetry::Registry& r, const std::string& exporter)
      : produced_messages(r.AddCounter("sluice_exporter_kafka_produced_messages_total",
                                       "Messages the Kafka brokers acknowledged.", {"exporter"})
                              .With({exporter})),
        produced_bytes(r.AddCounter("sluice_exporter_kafka_produced_bytes_total",
                                    "Key and value bytes of the messages the Kafka brokers "
                                    "acknowledged.",
                                    {"exporter"})
                           .With({exporter})),
        delivery_failures(r.AddCounter("sluice_exporter_kafka_delivery_failures_total",
                                       "Kafka messages whose delivery failed (sent again unless "
                                       "the failure is permanent).",
                                       {"exporter"})
                              .With({exporter})),
        resent_messages(r.AddCounter("sluice_exporter_kafka_resent_messages_total",
                                     "Kafka messages produced again after a failed delivery.",
                                     {"exporter"})
                            .With({exporter})),
        queue_full_waits(r.AddCounter("sluice_exporter_kafka_queue_full_total",
                                      "Times a produce waited because the producer queue was "
                                      "full.",
                                      {"exporter"})
                             .With({exporter})),
        producers_recycled(r.AddCounter("sluice_exporter_kafka_producers_recycled_total",
                                        "Kafka producers replaced after connection_max_lifetime "
                                        "or a fatal error.",
                                        {"exporter"})
                               .With({exporter})),
        unsupported_items(r.AddCounter("sluice_exporter_unsupported_items_total",
                                       "Items skipped because the exporter cannot send their "
                                       "encoding.",
                                       {"exporter"})
                              .With({exporter})),
        dead_lettered_items(r.AddCounter("sluice_exporter_dead_lettered_items_total",
                                         "Items given up on and written to the dead-letter queue.",
                                         {"exporter"})
                                .With({exporter})),
        dead_letter_errors(r.AddCounter("sluice_exporter_dead_letter_errors_total",
                                        "Failed writes to the dead-letter queue (retried).",
                                        {"exporter"})
                               .With({exporter})) {}
  telemetry::Counter& produced_messages;
  telemetry::Counter& produced_bytes;
  telemetry::Counter& delivery_failures;
  telemetry::Counter& resent_messages;
  telemetry::Counter& queue_full_waits;
  telemetry::Counter& producers_recycled;
  telemetry::Counter& unsupported_items;
  telemetry::Counter& dead_lettered_items;
  telemetry::Counter& dead_letter_errors;
};

// One message on its way. Owned by librdkafka (as the message opaque) from a
// successful produce until its delivery report, by the exporter otherwise.
// The producer references `value` and `key` without copying them.
struct Outbound {
  log::Signal signal;
  std::string key;
  std::string value;
  std::string tenant;
};

// States of the exporter's messages:
//
//   Deliver ──produce──▶ in the producer ──ack──▶ delivered (freed)
//                          │        ▲
//            failed, curable│        │ Resend (from Flush, after backoff)
//                          ▼        │
//                         retry_ ───┘
//                          │
//   failed, permanent ─────┴──▶ OnUndeliverable ──▶ dead-letter queue (counted, freed)
//                                     │  write failed: retried with backoff
//                                     ▼  until written, or a stop's deadline
//                               abandoned_dead_letters_
//
// Flush succeeds only when the producer holds nothing, retry_ is empty and
// no dead letter was abandoned, so the cursor the LogConsumer commits after
// it covers only acknowledged or dead-lettered messages.
//
// Threads: Deliver, Flush and the delivery reports (served inside
// rd_kafka_poll/rd_kafka_flush) run on the LogConsumer's thread; Start and
// Stop on the service's, Stop only after the consumer thread has ended.
// librdkafka's log callback runs on its own threads and touches only const
// state.
class KafkaExporter final : public pipeline::Exporter {
 public:
  KafkaExporter(const pipeline::ComponentSettings& settings, const KafkaOptions& options,
                pipeline::Runtime& rt)
      : settings_(settings), options_(options), rt_(rt), metrics_(rt.metrics, settings.id) {}
  ~KafkaExporter() override { Stop(std::chrono::steady_clock::now()); }

  Status Start() override {
    if (options_.dead_letter.max_bytes > 0) {
      SLUICE_ASSIGN_OR_RETURN(
          dlq_,
          DeadLetterQueue::Open(rt_.log->fs(),
                                DeadLetterQueue::DirectoryFor(rt_.log->directory(), settings_.id),
                                settings_.id, options_.dead_letter.max_bytes, &rt_.metrics));
    }
    SLUICE_ASSIGN_OR_RETURN(producer_, NewProducer());
    producer_born_ = rt_.clock.MonotonicNanos();
    pipeline::LogConsumer::Options o;
    o.name = settings_.id;
    for (const auto& p : settings_.pipelines) o.pipeline_ids.push_back(p.id);
    o.start_at = options_.start_at;
    consumer_ = std::make_unique<pipeline::LogConsumer>(
        rt_, o, [this](const log::LogReader::Batch& b) { return Deliver(b); },
        [this] { return Flush(); });
    return consumer_->Start();
  }

  void Stop(pipeline::Deadline deadline) override {
    // First, so that a dead letter being retried gives up at the deadline.
    stop_deadline_ns_.store(deadline.time_since_epoch().count());
    if (consumer_) consumer_->Stop(deadline);
    consumer_.reset();
    Close();
  }

 private:
  struct ProducerDeleter {
    void operator()(rd_kafka_t* rk) const { Rdk().rd_kafka_destroy(rk); }
  };
  using Producer = std::unique_ptr<rd_kafka_t, ProducerDeleter>;
  std::unique_ptr<DeadLetterQueue> dlq_;

  Result<Producer> NewProducer() {
    SLUICE_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, NewConf(options_));
    Rdk().rd_kafka_conf_set_opaque(conf, this);
    Rdk().rd_kafka_conf_set_dr_msg_cb(conf, &KafkaExporter::DeliveryCallback);
    Rdk().rd_kafka_conf_set_error_cb(conf, &KafkaExporter::ErrorCallback);
    Rdk().rd_kafka_conf_set_log_cb(conf, &KafkaExporter::LogCallback);
    char error[512];
    rd_kafka_t* rk = Rdk().rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (rk == nullptr) {
      Rdk().rd_kafka_conf_destroy(conf);  // rd_kafka_new takes it only on success
      return Status::InvalidArgument(std::string("cannot create a kafka producer: ") + error);
    }
    return Producer(rk);
  }

  int FlushTimeoutMs() const {
    return static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.timeout + kFlushMargin)
            .count());
  }

  const std::string& TopicOf(log::Signal s) const {
    switch (s) {
      case log::Signal::kTraces:
        return options_.traces.topic;
      case log::Signal::kMetrics:
        return options_.metrics.topic;
      case log::Signal::kLogs:
        return options_.logs.topic;
    }
    return options_.traces.topic;
  }

  Status Deliver(const log::LogReader::Batch& batch) {
    Rdk().rd_kafka_poll(producer_.get(), 0);
    RecycleIfDue();
    // Backpressure: no new data while earlier messages wait to be sent
    // again. The LogConsumer paces these attempts with its own backoff.
    if (!retry_.empty()) SLUICE_RETURN_IF_ERROR(SendHeldAndFlush());
    if (batch.header.encoding != log::Encoding::kOtlpProto) {
      SkipUnsupported(batch.header);
      return Status::Ok();
    }
    std::vector<KeyedRequest> parts;
    Status split = Split(batch.header.signal, batch.payload, &parts);
    if (!split.ok()) {
      // Validated on the way in and CRC-checked on disk, so this is a bug;
      // the request still goes out, whole and without a key.
      logging::Error("exporter", "stored batch does not split; sent whole",
                     {{"exporter", settings_.id}, {"error", split.ToString()}});
      parts.clear();
      parts.push_back({"", std::string(batch.payload)});
    }
    for (auto& part : parts) {
      auto m = std::make_unique<Outbound>();
      m->signal = batch.header.signal;
      m->key = std::move(part.key);
      m->value = std::move(part.request);
      m->tenant = std::string(batch.tenant);
      Produce(std::move(m));
    }
    return Status::Ok();
  }

  Status Split(log::Signal signal, std::string_view payload, std::vector<KeyedRequest>* out) {
    switch (options_.partition_by) {
      case PartitionBy::kTraceId:
        if (signal == log::Signal::kTraces) return SplitByTraceId(payload, out);
        break;  // other signals are not keyed by trace
      case PartitionBy::kService:
        return SplitByService(payload, out);
      case PartitionBy::kNone:
        break;
    }
    out->push_back({"", std::string(payload)});
    return Status::Ok();
  }

  void SkipUnsupported(const log::BatchHeader& h) {
    metrics_.unsupported_items.Inc(h.item_count);
    auto now = std::chrono::steady_clock::now();
    if (warned_unsupported_ && now - last_unsupported_warning_ < kUnsupportedWarningInterval) {
      return;
    }
    warned_unsupported_ = true;
    last_unsupported_warning_ = now;
    logging::Warn("exporter",
                  "batch is not OTLP (e.g. Prometheus remote write) and cannot be sent to Kafka "
                  "as OTLP; skipped (counted in sluice_exporter_unsupported_items_total)",
                  {{"exporter", settings_.id},
                   {"signal", log::SignalName(h.signal)},
                   {"encoding", static_cast<int>(h.encoding)},
                   {"items", h.item_count}});
  }

  // Hands one message to the producer. Afterwards it is the producer's, held
  // in retry_, or dead-lettered: never dropped. A full queue is waited out
  // (serving delivery reports meanwhile) for up to one delivery timeout.
  void Produce(std::unique_ptr<Outbound> m) {
    const std::string& topic = TopicOf(m->signal);
    rd_kafka_vu_t vus[5];
    size_t n = 0;
    vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vus[n++].u.cstr = topic.c_str();
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[n].u.mem.ptr = m->value.data();
    vus[n++].u.mem.size = m->value.size();
    if (!m->key.empty()) {
      vus[n].vtype = RD_KAFKA_VTYPE_KEY;
      vus[n].u.mem.ptr = m->key.data();
      vus[n++].u.mem.size = m->key.size();
    }
    if (!m->tenant.empty()) {
      vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
      vus[n].u.header.name = kTenantHeader;
      vus[n].u.header.val = m->tenant.data();
      vus[n++].u.header.size = static_cast<ssize_t>(m->tenant.size());
    }
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vus[n++].u.ptr = m.get();

    const auto give_up = std::chrono::steady_clock::now() + options_.timeout + kFlushMargin;
    for (;;) {
      rd_kafka_error_t* error = Rdk().rd_kafka_produceva(producer_.get(), vus, n);
      if (error == nullptr) {
        m.release();  // the delivery report takes it back
        return;
      }
      rd_kafka_resp_err_t code = Rdk().rd_kafka_error_code(error);
      std::string what = Rdk().rd_kafka_error_string(error);
      Rdk().rd_kafka_error_destroy(error);
      if (code == RD_KAFKA_RESP_ERR__QUEUE_FULL && std::chrono::steady_clock::now() < give_up) {
        metrics_.queue_full_waits.Inc();
        Rdk().rd_kafka_poll(producer_.get(), 100);
        continue;
      }
      metrics_.delivery_failures.Inc();
      Failed(std::move(m), code, what);
      return;
    }
  }

  void Failed(std::unique_ptr<Outbound> m, rd_kafka_resp_err_t code, std::string_view what) {
    if (IsPermanent(code)) {
      OnUndeliverable(*m, what);
      return;
    }
    last_failure_ = std::string(Rdk().rd_kafka_err2name(code)) + ": " + std::string(what);
    retry_.push_back(std::move(m));
  }

  // The single exit for messages that can never be delivered: counted,
  // logged and kept in the dead-letter queue, so the cursor may pass them.
  void OnUndeliverable(const Outbound& m, std::string_view reason) {
    wire::otlp::Inspection inspection;
    Status st;
    switch (m.signal) {
      case log::Signal::kTraces:
        st = wire::otlp::InspectTraces(m.value, &inspection);
        break;
      case log::Signal::kMetrics:
        st = wire::otlp::InspectMetrics(m.value, &inspection);
        break;
      case log::Signal::kLogs:
        st = wire::otlp::InspectLogs(m.value, &inspection);
        break;
    }
    uint64_t items = st.ok() ? inspection.items : 0;
    logging::Error("exporter", "kafka message cannot be delivered; given up (dead-lettered)",
                   {{"exporter", settings_.id},
                    {"topic", TopicOf(m.signal)},
                    {"bytes", m.value.size()},
                    {"items", items},
                    {"error", reason}});
    if (!dlq_) {  // dead_letter.max_bytes: 0 keeps none
      metrics_.dead_lettered_items.Inc(items);
      return;
    }
    pipeline::OutboundRequest r;
    r.signal = m.signal;
    r.route = TopicOf(m.signal);
    r.body = m.value;
    r.items = items;
    PutDeadLetter(r, reason);
  }

  // Writes a dead letter, retrying a failed write with backoff (each failure
  // counted in sluice_exporter_dead_letter_errors_total) until it is written,
  // as the request exporters do: the message was given up on, so the queue
  // is its only place. The consumer thread waits meanwhile, so nothing new
  // is read. Only a stop past its deadline ends the retries: the message is
  // then counted in abandoned_dead_letters_, which fails every later Flush,
  // so the cursor stays before it and a restart produces it again.
  void PutDeadLetter(const pipeline::OutboundRequest& r, std::string_view reason) {
    std::chrono::milliseconds wait = kFirstDeadLetterBackoff;
    for (;;) {
      Status st = dlq_->Put(r, reason, rt_.clock.NowUnixNanos());
      if (st.ok()) {
        metrics_.dead_lettered_items.Inc(r.items);
        return;
      }
      metrics_.dead_letter_errors.Inc();
      logging::Error("exporter", "cannot write the dead-letter queue; retrying",
                     {{"exporter", settings_.id},
                      {"error", st.ToString()},
                      {"retry_in_ms", static_cast<int64_t>(wait.count())}});
      if (!SleepUnlessStopped(wait)) {
        ++abandoned_dead_letters_;
        logging::Warn("exporter",
                      "dead letter not written at stop; the cursor is not past its message, so "
                      "it is produced again after a restart",
                      {{"exporter", settings_.id}});
        return;
      }
      wait = std::min(wait * 2, kMaxDeadLetterBackoff);
    }
  }

  // Sleeps for `d` in short steps; false, at once, when a stop's deadline
  // has passed.
  bool SleepUnlessStopped(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      if (now.time_since_epoch().count() >= stop_deadline_ns_.load()) return false;
      if (now >= until) return true;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          until - now, std::chrono::milliseconds(20)));
    }
  }

  void OnDelivery(const rd_kafka_message_t& report) {
    std::unique_ptr<Outbound> m(static_cast<Outbound*>(report._private));
    if (report.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      metrics_.produced_messages.Inc();
      metrics_.produced_bytes.Inc(report.len + report.key_len);
      return;
    }
    metrics_.delivery_failures.Inc();
    Failed(std::move(m), report.err, Rdk().rd_kafka_err2str(report.err));
  }

  // Makes everything produced so far acknowledged (or dead-lettered). Held
  // messages are sent again first, at most once per backoff interval: the
  // LogConsumer calls this again at once after a failure.
  Status Flush() {
    if (abandoned_dead_letters_ > 0) {
      return Status::Unavailable(std::to_string(abandoned_dead_letters_) +
                                 " undeliverable kafka messages are not in the dead-letter queue");
    }
    if (!retry_.empty() && std::chrono::steady_clock::now() < next_resend_) {
      return Status::Unavailable(std::to_string(retry_.size()) +
                                 " kafka messages wait to be sent again after: " + last_failure_);
    }
    return SendHeldAndFlush();
  }

  Status SendHeldAndFlush() {
    // A producer that failed fatally refuses everything: replace it first.
    RecycleIfDue();
    if (!retry_.empty()) Resend();
    rd_kafka_resp_err_t err = Rdk().rd_kafka_flush(producer_.get(), FlushTimeoutMs());
    if (!retry_.empty()) {
      next_resend_ = std::chrono::steady_clock::now() + resend_backoff_;
      resend_backoff_ = std::min(resend_backoff_ * 2, kMaxResendBackoff);
      return Status::Unavailable(std::to_string(retry_.size()) +
                                 " kafka messages not delivered: " + last_failure_);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::Unavailable(std::to_string(Rdk().rd_kafka_outq_len(producer_.get())) +
                                 " kafka messages still unacknowledged after " +
                                 std::to_string(FlushTimeoutMs()) + "ms");
    }
    resend_backoff_ = kFirstResendBackoff;
    RecycleIfDue();
    return Status::Ok();
  }

  void Resend() {
    std::deque<std::unique_ptr<Outbound>> held;
    held.swap(retry_);
    metrics_.resent_messages.Inc(held.size());
    logging::Info(
        "exporter", "sending kafka messages again",
        {{"exporter", settings_.id}, {"messages", held.size()}, {"after", last_failure_}});
    for (auto& m : held) Produce(std::move(m));
  }

  // Replaces the producer once it is older than connection_max_lifetime, or
  // after a fatal error (which an idempotent producer cannot leave).
  void RecycleIfDue() {
    char reason[512];
    bool fatal = Rdk().rd_kafka_fatal_error(producer_.get(), reason, sizeof reason) !=
                 RD_KAFKA_RESP_ERR_NO_ERROR;
    bool old =
        rt_.clock.MonotonicNanos() - producer_born_ >= options_.connection_max_lifetime.count();
    if (!fatal && !old) return;
    if (fatal) {
      // Its messages come back through their delivery reports and are held
      // for the next producer.
      Rdk().rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    }
    const int in_flight = Rdk().rd_kafka_outq_len(producer_.get());
    // Invariant: the old producer has reported every message it held
    // (acknowledged, or held in retry_) before it is destroyed.
    if (Rdk().rd_kafka_flush(producer_.get(), FlushTimeoutMs()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      logging::Warn("exporter", "kafka producer not recycled yet: messages still in flight",
                    {{"exporter", settings_.id}});
      return;
    }
    Result<Producer> fresh = NewProducer();
    if (!fresh.ok()) {
      logging::Error("exporter", "cannot create a new kafka producer; keeping the old one",
                     {{"exporter", settings_.id}, {"error", fresh.status().ToString()}});
      return;
    }
    producer_ = std::move(fresh).value();
    producer_born_ = rt_.clock.MonotonicNanos();
    metrics_.producers_recycled.Inc();
    logging::Info("exporter", "kafka producer recycled",
                  {{"exporter", settings_.id},
                   {"reason", fatal ? std::string(reason) : "connection_max_lifetime"},
                   {"drained_messages", in_flight}});
  }

  // After the consumer has stopped. Its cursor covers only what was
  // acknowledged, so what is still queued is sent again after a restart:
  // purged rather than waited for.
  void Close() {
    if (!producer_) return;
    Rdk().rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    Rdk().rd_kafka_flush(producer_.get(), FlushTimeoutMs());  // serves the purge reports
    if (!retry_.empty()) {
      logging::Warn("exporter",
                    "kafka messages undelivered at stop; the cursor is not past them, so they "
                    "are sent again after a restart",
                    {{"exporter", settings_.id}, {"messages", retry_.size()}});
    }
    retry_.clear();
    producer_.reset();
  }

  static void DeliveryCallback(rd_kafka_t*, const rd_kafka_message_t* report, void* opaque) {
    static_cast<KafkaExporter*>(opaque)->OnDelivery(*report);
  }

  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<KafkaExporter*>(opaque);
    auto code = static_cast<rd_kafka_resp_err_t>(err);
    // Connection failures are already reported through the log callback.
    if (code == RD_KAFKA_RESP_ERR__TRANSPORT) return;
    logging::Log(code == RD_KAFKA_RESP_ERR__FATAL ? logging::Level::kError : logging::Level::kWarn,
                 "exporter", "kafka producer error",
                 {{"exporter", self->settings_.id},
                  {"code", Rdk().rd_kafka_err2name(code)},
                  {"error", reason},
                  {"client", Rdk().rd_kafka_name(rk)}});
  }

  static void LogCallback(const rd_kafka_t* rk, int level, const char* facility, const char* buf) {
    auto* self = static_cast<KafkaExporter*>(Rdk().rd_kafka_opaque(rk));
    // syslog levels. librdkafka reports a refused connection at 3 and
    // recovers from it by itself, so 3 is a warning here.
    logging::Level l = level <= 2   ? logging::Level::kError
                       : level <= 4 ? logging::Level::kWarn
                                    : logging::Level::kDebug;
    if (!logging::Enabled(l)) return;
    logging::Log(l, "exporter", buf, {{"exporter", self->settings_.id}, {"facility", facility}});
  }

  const pipeline::ComponentSettings settings_;
  const KafkaOptions options_;
  pipeline::Runtime& rt_;
  KafkaMetrics metrics_;
  Producer producer_;
  int64_t producer_born_ = 0;  // rt_.clock.MonotonicNanos()
  // Messages whose delivery failed in a way sending again may cure.
  std::deque<std::unique_ptr<Outbound>> retry_;
  std::string last_failure_;
  std::chrono::steady_clock::time_point next_resend_{};
  std::chrono::milliseconds resend_backoff_ = kFirstResendBackoff;
  bool warned_unsupported_ = false;
  std::chrono::steady_clock::time_point last_unsupported_warning_{};
  // Dead letters given up at stop before they were written (PutDeadLetter).
  uint64_t abandoned_dead_letters_ = 0;
  // steady_clock nanoseconds of the stop's deadline; the far future until
  // Stop is called. Set on the service's thread, read on the consumer's.
  std::atomic<int64_t> stop_deadline_ns_{INT64_MAX};
  std::unique_ptr<pipeline::LogConsumer> consumer_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> ProducerProperties(const KafkaOptions& o) {
  std::string brokers;
  for (const auto& b : o.brokers) brokers += (brokers.empty() ? "" : ",") + b;
  auto ms = [](std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  return {
      {"bootstrap.servers", brokers},
      {"client.id", o.client_id},
      {"acks", std::string(AcksName(o.acks))},
      // With every replica acknowledging, librdkafka's own retries can
      // neither duplicate nor reorder messages.
      {"enable.idempotence", o.acks == Acks::kAll ? "true" : "false"},
      {"compression.type", std::string(CompressionName(o.compression))},
      {"message.timeout.ms", ms(o.timeout)},
      {"message.max.bytes", std::to_string(o.max_message_bytes)},
      // Keys land on the partitions the Java client would choose.
      {"partitioner", "murmur2_random"},
      // Bounds what is produced but not yet acknowledged (librdkafka's
      // default is 1 GiB), and so what a crash makes the exporter send twice.
      {"queue.buffering.max.kbytes",
       std::to_string(std::max<uint64_t>(kMaxQueuedBytes, 2 * o.max_message_bytes) / 1024)},
      {"log.connection.close", "false"},
  };
}

Status SplitByTraceId(std::string_view request, std::vector<KeyedRequest>* out) {
  struct Scope {
    uint32_t resource;
    std::string fields;  // every field of the ScopeSpans but its spans
  };
  struct Trace {
    std::string_view id;
    std::vector<std::pair<uint32_t, std::string_view>> spans;  // scope index, raw span field
  };
  std::vector<std::string> resources;  // every field of the ResourceSpans but its scopes
  std::vector<Scope> scopes;
  std::vector<Trace> traces;
  std::unordered_map<std::string_view, size_t> by_id;

  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != field::kRequestResourceSpans) continue;
    if (!req.Is(WireType::kLengthDelimited)) return Malformed("resource_spans", req);
    const auto r = static_cast<uint32_t>(resources.size());
    resources.emplace_back();
    ProtoReader rs(req.bytes());
    while (rs.Next()) {
      if (rs.field() != field::kResourceSpansScopeSpans) {
        resources[r].append(rs.raw_field());
        continue;
      }
      if (!rs.Is(WireType::kLengthDelimited)) return Malformed("scope_spans", rs);
      const auto s = static_cast<uint32_t>(scopes.size());
      scopes.push_back({r, {}});
      ProtoReader ss(rs.bytes());
      while (ss.Next()) {
        if (ss.field() != field::kScopeSpansSpans) {
          scopes[s].fields.append(ss.raw_field());
          continue;
        }
        if (!ss.Is(WireType::kLengthDelimited)) return Malformed("span", ss);
        std::string_view id;
        ProtoReader span(ss.bytes());
        while (span.Next()) {
          if (span.field() == field::kSpanTraceId && span.Is(WireType::kLengthDelimited)) {
            id = span.bytes();
            break;
          }
        }
        if (!span.ok()) return Malformed("span", span);
        auto [it, inserted] = by_id.try_emplace(id, traces.size());
        if (inserted) traces.push_back({id, {}});
        traces[it->second].spans.emplace_back(s, ss.raw_field());
      }
      if (!ss.ok()) return Malformed("scope_spans", ss);
    }
    if (!rs.ok()) return Malformed("resource_spans", rs);
  }
  if (!req.ok()) return Malformed("request", req);

  constexpr uint32_t kNone = UINT32_MAX;
  for (const Trace& t : traces) {
    KeyedRequest part{std::string(t.id), {}};
    wire::ProtoWriter w(&part.request);
    uint32_t open_resource = kNone;
    uint32_t open_scope = kNone;
    size_t resource_mark = 0;
    size_t scope_mark = 0;
    // A trace's spans are in wire order, so each of its scopes (and
    // resources) is opened once.
    for (const auto& [s, raw] : t.spans) {
      if (s != open_scope) {
        if (open_scope != kNone) w.EndMessage(scope_mark);
        const uint32_t r = scopes[s].resource;
        if (r != open_resource) {
          if (open_resource != kNone) w.EndMessage(resource_mark);
          resource_mark = w.BeginMessage(field::kRequestResourceSpans);
          part.request.append(resources[r]);
          open_resource = r;
        }
        scope_mark = w.BeginMessage(field::kResourceSpansScopeSpans);
        part.request.append(scopes[s].fields);
        open_scope = s;
      }
      part.request.append(raw);
    }
    if (open_scope != kNone) w.EndMessage(scope_mark);
    if (open_resource != kNone) w.EndMessage(resource_mark);
    out->push_back(std::move(part));
  }
  return Status::Ok();
}

Status SplitByService(std::string_view request, std::vector<KeyedRequest>* out) {
  std::unordered_map<std::string_view, size_t> by_name;  // views into `request`
  const size_t first = out->size();
  ProtoReader req(request);
  while (req.Next()) {
    if (req.field() != kRequestResources) continue;
    if (!req.Is(WireType::kLengthDelimited)) return Malformed("resource", req);
    std::string_view name;
    SLUICE_RETURN_IF_ERROR(ServiceNameOf(req.bytes(), &name));
    auto [it, inserted] = by_name.try_emplace(name, out->size());
    if (inserted) out->push_back({std::string(name), {}});
    (*out)[it->second].request.append(req.raw_field());
  }
  if (!req.ok()) {
    out->resize(first);
    return Malformed("request", req);
  }
  return Status::Ok();
}

const config::Schema<KafkaOptions>& KafkaOptionsSchema() {
  static const config::Schema<KafkaOptions> schema = [] {
    using Traces = SignalOptions<log::Signal::kTraces>;
    using Metrics = SignalOptions<log::Signal::kMetrics>;
    using Logs = SignalOptions<log::Signal::kLogs>;
    config::Schema<Traces> traces("kafka.traces");
    traces.String("topic", &Traces::topic, "Topic the ExportTraceServiceRequest messages go to.");
    config::Schema<Metrics> metrics("kafka.metrics");
    metrics.String("topic", &Metrics::topic,
                   "Topic the ExportMetricsServiceRequest messages go to.");
    config::Schema<Logs> logs("kafka.logs");
    logs.String("topic", &Logs::topic, "Topic the ExportLogsServiceRequest messages go to.");

    config::Schema<KafkaOptions> s("kafka");
    s.StringList("brokers", &KafkaOptions::brokers, "Bootstrap brokers, each host:port.")
        .String("client_id", &KafkaOptions::client_id, "Client id sent with every request.")
        .Object("traces", &KafkaOptions::traces, traces, "")
        .Object("metrics", &KafkaOptions::metrics, metrics, "")
        .Object("logs", &KafkaOptions::logs, logs, "")
        .Enum<PartitionBy>("partition_by", &KafkaOptions::partition_by,
                           {{"none", PartitionBy::kNone},
                            {"trace_id", PartitionBy::kTraceId},
                            {"service", PartitionBy::kService}},
                           "Message key. `trace_id`: traces are split into one message per "
                           "trace, keyed by its 16-byte id (other signals get no key); "
                           "`service`: one message per service.name, keyed by it; `none`: one "
                           "message per stored batch, without a key.")
        .Enum<Acks>(
            "acks", &KafkaOptions::acks,
            {{"0", Acks::kNone}, {"1", Acks::kLeader}, {"-1", Acks::kAll}, {"all", Acks::kAll}},
            "Acknowledgements a message needs: `all` (or `-1`) from every in-sync "
            "replica, with the idempotent producer; `1` from the leader; `0` none.")
        .Enum<Compression>("compression", &KafkaOptions::compression,
                           {{"none", Compression::kNone},
                            {"gzip", Compression::kGzip},
                            {"snappy", Compression::kSnappy},
                            {"lz4", Compression::kLz4},
                            {"zstd", Compression::kZstd}},
                           "Compression of the message batches sent to the brokers.")
        .Duration("timeout", &KafkaOptions::timeout,
                  "How long the producer tries one message (message.timeout.ms) before it "
                  "counts as failed and is sent again; also bounds a flush.",
                  {100e6L, 3600e9L})
        .Bytes("max_message_bytes", &KafkaOptions::max_message_bytes,
               "Largest message, before compression; larger ones are dead-lettered (use "
               "partition_by to make messages smaller).",
               {1000.0L, 1e9L})
        .Duration("connection_max_lifetime", &KafkaOptions::connection_max_lifetime,
                  "The producer and its connections are replaced after this long, once every "
                  "message it holds is acknowledged.",
                  {1e9L, 30 * 86400e9L})
        .Enum("start_at", &KafkaOptions::start_at, StartAtChoices(), kStartAtHelp)
        .Object("dead_letter", &KafkaOptions::dead_letter, DeadLetterOptionsSchema(),
                "Messages that can never be delivered are kept here (the topic is their "
                "route); `sluice dlq replay` produces them again.")
        .Check([](const KafkaOptions& o) -> std::string {
          if (o.brokers.empty()) return "brokers must name at least one broker";
          for (const auto& b : o.brokers) {
            if (b.empty() || b.find_first_of(", \t") != std::string::npos) {
              return "broker \"" + b + "\" must be a single host:port";
            }
          }
          for (const auto& [key, topic] :
               {std::pair<const char*, const std::string*>{"traces.topic", &o.traces.topic},
                {"metrics.topic", &o.metrics.topic},
                {"logs.topic", &o.logs.topic}}) {
            std::string error = CheckTopic(key, *topic);
            if (!error.empty()) return error;
          }
          return "";
        });
    return s;
  }();
  return schema;
}

namespace {

// Produces one message at a time and waits for its delivery report: what
// `sluice dlq replay` uses. The topic is the dead letter's route.
class KafkaReplaySender final : public pipeline::Sender {
 public:
  explicit KafkaReplaySender(const KafkaOptions& options) : options_(options) {}
  ~KafkaReplaySender() override {
    if (rk_ != nullptr) Rdk().rd_kafka_destroy(rk_);
  }

  pipeline::SendResult Send(const pipeline::OutboundRequest& request) override {
    if (rk_ == nullptr) {
      Result<rd_kafka_conf_t*> conf = NewConf(options_);
      if (!conf.ok()) return pipeline::SendResult::Permanent(conf.status().message());
      Rdk().rd_kafka_conf_set_opaque(*conf, this);
      Rdk().rd_kafka_conf_set_dr_msg_cb(*conf,
                                        [](rd_kafka_t*, const rd_kafka_message_t* m, void* o) {
                                          static_cast<KafkaReplaySender*>(o)->last_ = m->err;
                                        });
      char error[512];
      rk_ = Rdk().rd_kafka_new(RD_KAFKA_PRODUCER, *conf, error, sizeof error);
      if (rk_ == nullptr) {
        Rdk().rd_kafka_conf_destroy(*conf);
        return pipeline::SendResult::Permanent(error);
      }
    }
    last_ = RD_KAFKA_RESP_ERR__IN_PROGRESS;
    rd_kafka_resp_err_t err = Rdk().rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(request.route.c_str()),
        RD_KAFKA_V_VALUE(const_cast<char*>(request.body.data()), request.body.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return pipeline::SendResult::Retryable(Rdk().rd_kafka_err2str(err));
    }
    Rdk().rd_kafka_flush(rk_, static_cast<int>(options_.timeout.count() / 1'000'000) + 1000);
    if (last_ == RD_KAFKA_RESP_ERR_NO_ERROR) return pipeline::SendResult::Ok();
    std::string why = std::string("kafka: ") + Rdk().rd_kafka_err2str(last_);
    if (last_ == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
        last_ == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE) {
      return pipeline::SendResult::Permanent(std::move(why));
    }
    return pipeline::SendResult::Retryable(std::move(why));
  }

 private:
  // A copy: a sender may outlive the options it was made from (a factory's
  // captured copy, a parsed configuration), whatever order owners declare
  // them in.
  const KafkaOptions options_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_resp_err_t last_ = RD_KAFKA_RESP_ERR_NO_ERROR;
};

}  // namespace

pipeline::ComponentType KafkaExporterType() {
  pipeline::ComponentType t = pipeline::MakeExporterType(
      "kafka",
      "Produces OTLP protobuf (Export*ServiceRequest) messages to Kafka topics, one topic per "
      "signal, at least once.",
      {log::Signal::kTraces, log::Signal::kMetrics, log::Signal::kLogs}, KafkaOptionsSchema(),
      [](const pipeline::ComponentSettings& s, const KafkaOptions& o,
         pipeline::Runtime& rt) -> Result<std::unique_ptr<pipeline::Exporter>> {
        // librdkafka judges the properties now, so a bad one stops start-up.
        SLUICE_ASSIGN_OR_RETURN(rd_kafka_conf_t * conf, NewConf(o));
        Rdk().rd_kafka_conf_destroy(conf);
        return std::unique_ptr<pipeline::Exporter>(new KafkaExporter(s, o, rt));
      });
  return pipeline::WithSender<KafkaOptions>(
      std::move(t), [](const KafkaOptions& o) -> std::unique_ptr<pipeline::Sender> {
        return std::make_unique<KafkaReplaySender>(o);
      });
}

}  // namespace sluice::exporters::kafka
