#pragma once

#include <librdkafka/rdkafka.h>

#include "base/result.h"

namespace sluice::exporters::kafka {

// The librdkafka functions the kafka exporter calls, each as `name`.
#define SLUICE_RDKAFKA_FUNCTIONS(X) \
  X(rd_kafka_conf_destroy)          \
  X(rd_kafka_conf_new)              \
  X(rd_kafka_conf_set)              \
  X(rd_kafka_conf_set_dr_msg_cb)    \
  X(rd_kafka_conf_set_error_cb)     \
  X(rd_kafka_conf_set_log_cb)       \
  X(rd_kafka_conf_set_opaque)       \
  X(rd_kafka_destroy)               \
  X(rd_kafka_err2name)              \
  X(rd_kafka_err2str)               \
  X(rd_kafka_error_code)            \
  X(rd_kafka_error_destroy)         \
  X(rd_kafka_error_string)          \
  X(rd_kafka_fatal_error)           \
  X(rd_kafka_flush)                 \
  X(rd_kafka_name)                  \
  X(rd_kafka_new)                   \
  X(rd_kafka_opaque)                \
  X(rd_kafka_outq_len)              \
  X(rd_kafka_poll)                  \
  X(rd_kafka_producev)              \
  X(rd_kafka_produceva)             \
  X(rd_kafka_purge)

// librdkafka, opened when a kafka exporter is created, not at start-up:
// with its dependencies (SASL, Kerberos, LZ4) it would cost every sluice
// memory whether or not it sends to Kafka (base/shared_library.h). The
// header is used for its types only.
struct RdKafka {
#define SLUICE_RDKAFKA_POINTER(name) decltype(&::name) name = nullptr;
  SLUICE_RDKAFKA_FUNCTIONS(SLUICE_RDKAFKA_POINTER)
#undef SLUICE_RDKAFKA_POINTER
};

// Opens librdkafka.so.1 on the first call and binds every function; every
// call after answers the same. FailedPrecondition naming the library and
// the package to install when it cannot be opened. Thread-safe.
Result<const RdKafka*> LoadRdKafka();

// The opened librdkafka. Precondition: LoadRdKafka() succeeded (the
// exporter checks when it is created, before any call).
const RdKafka& Rdk();

}  // namespace sluice::exporters::kafka
