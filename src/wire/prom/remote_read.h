#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "wire/prom/remote_write.h"
#include "wire/proto_reader.h"

namespace sluice::wire::prom {

// The client side of Prometheus remote read (prompb/remote.proto): a
// ReadRequest to POST, and the two answers a server may give.
//
//   request:  snappy block of ReadRequest, Content-Type application/x-protobuf,
//             Content-Encoding snappy, X-Prometheus-Remote-Read-Version 0.1.0
//   sampled:  snappy block of ReadResponse (Content-Type application/x-protobuf)
//   streamed: uncompressed body of checksummed frames (Content-Type
//             kStreamedReadContentType), each a ChunkedReadResponse whose
//             series carry XOR chunks (ChunkedReadDecoder)
//
// A server answers streamed only when the request accepts it, and may still
// answer sampled (older servers do): the caller picks the decoder by the
// response's Content-Type (ReadResponseKindOf).

// Field numbers from the remote read specification. TimeSeries, Label and
// Sample are the remote write messages (field::kSeriesLabels, ...); the
// chunked series numbers its labels the same way.
namespace field {
inline constexpr uint32_t kReadQueries = 1;
inline constexpr uint32_t kReadAcceptedResponseTypes = 2;
inline constexpr uint32_t kQueryStartMs = 1;
inline constexpr uint32_t kQueryEndMs = 2;
inline constexpr uint32_t kQueryMatchers = 3;
inline constexpr uint32_t kQueryHints = 4;
inline constexpr uint32_t kMatcherType = 1;
inline constexpr uint32_t kMatcherName = 2;
inline constexpr uint32_t kMatcherValue = 3;
inline constexpr uint32_t kReadResults = 1;        // ReadResponse.results
inline constexpr uint32_t kResultTimeseries = 1;   // QueryResult.timeseries
inline constexpr uint32_t kChunkedSeries = 1;      // ChunkedReadResponse.chunked_series
inline constexpr uint32_t kChunkedQueryIndex = 2;  // ChunkedReadResponse.query_index
inline constexpr uint32_t kChunkedSeriesLabels = 1;
inline constexpr uint32_t kChunkedSeriesChunks = 2;
inline constexpr uint32_t kChunkMinTimeMs = 1;
inline constexpr uint32_t kChunkMaxTimeMs = 2;
inline constexpr uint32_t kChunkType = 3;
inline constexpr uint32_t kChunkData = 4;
}  // namespace field
static_assert(
    field::kChunkedSeriesLabels == field::kSeriesLabels,
    "ChunkedSeries and TimeSeries number their labels alike; one label reader serves both");

// ReadRequest.accepted_response_types values.
enum class ReadResponseType : uint8_t { kSamples = 0, kStreamedXorChunks = 1 };
// Chunk.type values.
enum class ChunkEncoding : uint8_t { kUnknown = 0, kXor = 1, kHistogram = 2, kFloatHistogram = 3 };

inline constexpr std::string_view kRemoteReadVersion = "0.1.0";
inline constexpr std::string_view kStreamedReadContentType =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

enum class ReadResponseKind : uint8_t { kSampled, kStreamed, kUnknown };
// By media type, ignoring case, blanks and parameters:
// application/x-protobuf is kSampled, application/x-streamed-protobuf
// kStreamed, anything else (an empty header too) kUnknown.
ReadResponseKind ReadResponseKindOf(std::string_view content_type);

// A label of a decoded series: views into the response being decoded.
struct LabelView {
  std::string_view name, value;
};

struct Sample {
  int64_t timestamp_ms = 0;
  double value = 0;
};

// --- Request ---------------------------------------------------------------

struct LabelMatcher {
  // Numbered as LabelMatcher.Type on the wire.
  enum class Type : uint8_t { kEq = 0, kNeq = 1, kRe = 2, kNre = 3 };
  Type type = Type::kEq;
  std::string name, value;
};

// The response types a request accepts, in order of preference.
enum class AcceptedResponses : uint8_t {
  kSamples,                     // [SAMPLES]
  kStreamedXorChunksOrSamples,  // [STREAMED_XOR_CHUNKS, SAMPLES]
};

// Appends to *out a ReadRequest of one Query over [start_ms, end_ms] (both
// inclusive, as Prometheus reads them) selecting the series that match all
// `matchers`, without hints. Canonical proto3: minimal lengths, fields at
// their default (0, "") left out, accepted types packed. Uncompressed: the
// caller snappy-compresses it (wire::SnappyCompressInto).
void EncodeReadRequest(int64_t start_ms, int64_t end_ms, std::span<const LabelMatcher> matchers,
                       AcceptedResponses accepted, std::string* out);

// --- Sampled response ------------------------------------------------------

namespace internal {
// Decodes one TimeSeries into *labels and *samples (both cleared first);
// labels are views into `series`. Histograms and exemplars are skipped.
// InvalidArgument (without position) on malformed input.
Status DecodeTimeSeries(std::string_view series, std::vector<LabelView>* labels,
                        std::vector<Sample>* samples);
Status SampledError(uint64_t result, uint64_t series, const Status& cause);
Status SampledError(uint64_t result, const char* why);
}  // namespace internal

// Calls on_series(std::span<const LabelView> labels, std::span<const Sample>
// samples) for each TimeSeries of each QueryResult of a decompressed
// ReadResponse, in wire order. The label views point into `read_response`;
// both spans are valid during the call only.
// Native histograms (TimeSeries.histograms) are skipped. Returns
// InvalidArgument "result R series S: <why>" at the first malformed part;
// the series before it have been delivered.
template <class F>
Status ForEachSampledSeries(std::string_view read_response, F&& on_series) {
  std::vector<LabelView> labels;
  std::vector<Sample> samples;
  ProtoReader response(read_response);
  uint64_t result_index = 0;
  while (response.Next()) {
    if (response.field() != field::kReadResults) continue;
    if (!response.Is(WireType::kLengthDelimited)) {
      return internal::SampledError(result_index, "QueryResult is not a message");
    }
    ProtoReader result(response.bytes());
    uint64_t series_index = 0;
    while (result.Next()) {
      if (result.field() != field::kResultTimeseries) continue;
      Status st = result.Is(WireType::kLengthDelimited)
                      ? internal::DecodeTimeSeries(result.bytes(), &labels, &samples)
                      : Status::InvalidArgument("TimeSeries is not a message");
      if (!st.ok()) return internal::SampledError(result_index, series_index, st);
      on_series(std::span<const LabelView>(labels), std::span<const Sample>(samples));
      ++series_index;
    }
    if (!result.ok()) return internal::SampledError(result_index, result.error());
    ++result_index;
  }
  if (!response.ok()) return internal::SampledError(result_index, response.error());
  return Status::Ok();
}

// --- Streamed response -----------------------------------------------------

// A streaming decoder of a streamed remote read body. The body is a
// sequence of frames, cut anywhere by the transport:
//
//   +--------------------+--------------------------+---------------------+
//   | length: uvarint    | crc: 4 bytes big-endian  | message: length     |
//   | (1..10 bytes)      | CRC-32C of the message   | bytes               |
//   +--------------------+--------------------------+---------------------+
//
//   message = ChunkedReadResponse { repeated ChunkedSeries chunked_series = 1;
//                                   int64 query_index = 2; }
//   ChunkedSeries = { repeated Label labels = 1; repeated Chunk chunks = 2; }
//   Chunk = { int64 min_time_ms = 1; int64 max_time_ms = 2;
//             Encoding type = 3; bytes data = 4; }
//
// Each ChunkedSeries is delivered once, with the samples of its XOR chunks
// decoded (DecodeXorChunk) and concatenated in wire order. A server splits a
// long series across frames, so the same labels may come again in the next
// frame with the following chunks. Chunks of other encodings (native
// histograms) are skipped and counted, not an error; a series that had only
// those is delivered with no samples.
//
// Errors end the decode: InvalidArgument "frame N: <why>" (frames counted
// from 1) for a checksum mismatch, a frame longer than max_frame_bytes, a
// malformed message or chunk; Finish() for a body ending inside a frame.
// The series before the error have been delivered (a frame's checksum is
// checked before any of its series is). Every later call returns the same
// status. The series delivered and the status do not depend on how the body
// was cut.
//
// Memory: a frame that arrives whole within one Feed is decoded in place;
// only a frame split across Feeds is copied, into a carry-over buffer of at
// most 14 + max_frame_bytes bytes. Label views point into the frame, sample
// spans into a buffer the decoder keeps; both are valid during the call only.
//
// Thread-safety: none; one thread at a time.
class ChunkedReadDecoder {
 public:
  static constexpr size_t kDefaultMaxFrameBytes = size_t{64} << 20;
  // The longest uvarint (10 bytes) and the checksum.
  static constexpr size_t kMaxFrameHeaderBytes = 10 + 4;

  explicit ChunkedReadDecoder(size_t max_frame_bytes = kDefaultMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}
  ChunkedReadDecoder(const ChunkedReadDecoder&) = delete;
  ChunkedReadDecoder& operator=(const ChunkedReadDecoder&) = delete;

  // Feeds the next bytes of the body and calls on_series(std::span<const
  // LabelView> labels, std::span<const Sample> samples) for each ChunkedSeries
  // of the frames completed so far. Feed after Finish is FailedPrecondition.
  template <class F>
  Status Feed(std::string_view bytes, F&& on_series);

  // End of body: InvalidArgument "frame N: truncated ..." when it ended
  // inside a frame. Further calls return the same.
  Status Finish();

  // Starts a new body, keeping the buffers' memory.
  void Reset();

  // Frames decoded so far.
  uint64_t frames() const { return frames_; }
  // ChunkedSeries delivered so far.
  uint64_t series() const { return series_; }
  // Non-XOR chunks skipped so far.
  uint64_t skipped_chunks() const { return skipped_chunks_; }
  // The query_index of the frame whose series are being delivered (during
  // on_series), else of the last frame.
  int64_t query_index() const { return query_index_; }

 private:
  enum class Step : uint8_t { kFrame, kNeedMore, kError };

  // Takes the next whole frame off the front of *input, or off carry_ plus
  // *input when the frame began in an earlier Feed, and checks its length
  // and checksum. kFrame: *message is the frame's message (in *input's
  // buffer or in carry_, valid until the next call). kNeedMore: *input is
  // used up, a partial frame kept in carry_. kError: status_ is set.
  Step NextFrame(std::string_view* input, std::string_view* message);
  Step TakeFromCarry(std::string_view* input, std::string_view* message);
  // Checks a whole frame whose header was read: the frame number is frames_+1.
  Step CheckFrame(std::string_view frame, size_t header_bytes, std::string_view* message);
  // Decodes one ChunkedSeries into labels_ and samples_.
  Status DecodeSeries(std::string_view series);
  template <class F>
  bool DeliverFrame(std::string_view message, F& on_series);

  Status Fail(std::string why);  // frame frames_+1
  // Fail, as a Step.
  Step Malformed(std::string why);
  Step TooLong(uint64_t length);
  Status FeedAfterFinish();

  const size_t max_frame_bytes_;
  uint64_t frames_ = 0;
  uint64_t series_ = 0;
  uint64_t skipped_chunks_ = 0;
  int64_t query_index_ = 0;
  bool finished_ = false;
  Status status_;

  // The start of a frame not yet whole. Invariant: shorter than the frame
  // (so at most kMaxFrameHeaderBytes + max_frame_bytes_), and empty
  // whenever no frame is pending, except that it holds the whole frame
  // NextFrame last returned from it while carry_is_frame_.
  std::string carry_;
  bool carry_is_frame_ = false;
  std::vector<LabelView> labels_;
  std::vector<Sample> samples_;
};

template <class F>
bool ChunkedReadDecoder::DeliverFrame(std::string_view message, F& on_series) {
  // Marshalled in field order, query_index comes after the series.
  query_index_ = static_cast<int64_t>(LastVarintField(message, field::kChunkedQueryIndex));
  ProtoReader r(message);
  uint64_t index = 0;
  while (r.Next()) {
    if (r.field() != field::kChunkedSeries) continue;
    Status st = r.Is(WireType::kLengthDelimited)
                    ? DecodeSeries(r.bytes())
                    : Status::InvalidArgument("ChunkedSeries is not a message");
    if (!st.ok()) {
      Fail("series " + std::to_string(index) + ": " + st.message()).IgnoreError();
      return false;
    }
    ++series_;
    ++index;
    on_series(std::span<const LabelView>(labels_), std::span<const Sample>(samples_));
  }
  if (!r.ok()) {
    Fail(r.error()).IgnoreError();
    return false;
  }
  ++frames_;
  return true;
}

template <class F>
Status ChunkedReadDecoder::Feed(std::string_view bytes, F&& on_series) {
  if (!status_.ok()) return status_;
  if (finished_) return FeedAfterFinish();
  std::string_view message;
  for (;;) {
    switch (NextFrame(&bytes, &message)) {
      case Step::kNeedMore:
        return Status::Ok();
      case Step::kError:
        return status_;
      case Step::kFrame:
        break;
    }
    if (!DeliverFrame(message, on_series)) return status_;
  }
}

// --- XOR chunks ------------------------------------------------------------

// The XOR chunk format of the Prometheus TSDB (Gorilla compression with
// millisecond timestamps). data = 2-byte big-endian sample count, then a bit
// stream, most significant bit first, padded with zero bits to a byte:
//
//   sample 0: timestamp as a zigzag varint, value as 64 bits (IEEE 754)
//   sample 1: timestamp delta as a uvarint, value as an XOR (below)
//   sample n: delta of the timestamp delta (dod) by prefix, value as an XOR
//     '0'                     dod = 0
//     '10'   + 14 bits        dod in [-(2^13 - 1), 2^13]
//     '110'  + 17 bits        dod in [-(2^16 - 1), 2^16]
//     '1110' + 20 bits        dod in [-(2^19 - 1), 2^19]
//     '1111' + 64 bits        any other dod
//     (a k-bit field is two's complement except that 1 followed by zeros
//     means +2^(k-1), not -2^(k-1): Prometheus writes and reads the ranges
//     above, lopsided by one, and so does this code)
//   XOR of a value's bits with the previous value's:
//     '0'                     same bits as the previous value
//     '10'  + m bits          the XOR's meaningful bits in the previous window
//     '11'  + 5 bits leading zeros (at most 31) + 6 bits m (0 means 64)
//           + m bits          a new window
//
// The varints of the first two samples are written 8 bits at a time at the
// current bit position, not byte-aligned. Timestamp arithmetic wraps as
// unsigned 64-bit, as the Go code's does.

// Appends the samples of the chunk to *out. InvalidArgument when the bit
// stream ends before the count's samples do, a varint overflows, or a window
// is wider than 64 bits.
Status DecodeXorChunk(std::string_view data, std::vector<Sample>* out);

// Appends an XOR chunk of `samples` to *out, bit for bit as Prometheus
// writes it. Requires samples.size() <= 65535 (the count's range).
void EncodeXorChunk(std::span<const Sample> samples, std::string* out);

// --- Building streamed responses (tests, benchmarks, fakes) ----------------

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `message`, the
// frame checksum.
uint32_t FrameChecksum(std::string_view message);

// Appends one frame holding `message`: uvarint length, big-endian CRC-32C,
// the message.
void AppendChunkedReadFrame(std::string_view message, std::string* out);

struct ChunkView {
  int64_t min_time_ms = 0;
  int64_t max_time_ms = 0;
  ChunkEncoding encoding = ChunkEncoding::kXor;
  std::string_view data;
};

// Appends a ChunkedReadResponse message of one ChunkedSeries with `labels`
// and `chunks`, for query `query_index`.
void EncodeChunkedReadResponse(std::span<const LabelView> labels, std::span<const ChunkView> chunks,
                               int64_t query_index, std::string* out);

}  // namespace sluice::wire::prom
