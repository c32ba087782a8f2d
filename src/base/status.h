#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

// Outcome classes are kept distinct so callers can act on them:
// end-of-stream is not corruption, and a retryable failure is not permanent.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument,  // the input is malformed; retrying it will not help
  kNotFound,
  kAlreadyExists,
  kCorruption,         // bytes on disk failed a check
  kIoError,            // the operating system refused; may be transient
  kResourceExhausted,  // a limit was reached; retry later (backpressure)
  kUnavailable,        // the component is not ready or is shutting down
  kEndOfStream,        // a reader reached the end of what exists now
  kFailedPrecondition,
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);

// A success or an error code with a message. Cheap to return when ok: an ok
// status is one null pointer, so the validators on the ingest path, which
// return one per field, pay nothing for the message an error would carry.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : state_(code == StatusCode::kOk ? nullptr : new State{code, std::move(message)}) {}
  Status(const Status& other) : state_(other.state_ ? new State(*other.state_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) state_.reset(other.state_ ? new State(*other.state_) : nullptr);
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status EndOfStream() { return {StatusCode::kEndOfStream, "end of stream"}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  // An IoError carrying strerror(err) after `context`, and err itself (see
  // os_error).
  static Status FromErrno(std::string_view context, int err);

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  // Empty when ok.
  const std::string& message() const { return state_ ? state_->message : EmptyMessage(); }
  // The errno of the system call that failed, for a status made by
  // FromErrno (kept through copies); 0 for every other status. Callers that
  // must tell one condition from another (a full disk from a failing one)
  // ask this, not the message, whose wording belongs to the C library.
  int os_error() const { return state_ ? state_->os_error : 0; }
  std::string ToString() const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

 private:
  struct State {
    StatusCode code;
    std::string message;
    int os_error = 0;
  };
  static const std::string& EmptyMessage();

  std::unique_ptr<State> state_;  // null when ok
};

}  // namespace sluice

#define SLUICE_RETURN_IF_ERROR(expr) \
  do {                               \
    ::sluice::Status _st = (expr);   \
    if (!_st.ok()) return _st;       \
  } while (0)
