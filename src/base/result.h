#pragma once

#include <optional>
#include <utility>

#include "base/check.h"
#include "base/status.h"

namespace sluice {

// Either a value or a non-ok Status. Accessing value() of an error is a bug
// and aborts (always-on check), so callers test ok() first.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    SLUICE_CHECK(!status_.ok());
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    SLUICE_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    SLUICE_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    SLUICE_CHECK(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace sluice

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
// SLUICE_ASSIGN_OR_RETURN(auto x, Foo()) declares x from Foo() or returns its status.
#define SLUICE_ASSIGN_OR_RETURN(decl, expr)                                                 \
  auto SLUICE_CONCAT(_res_, __LINE__) = (expr);                                             \
  if (!SLUICE_CONCAT(_res_, __LINE__).ok()) return SLUICE_CONCAT(_res_, __LINE__).status(); \
  decl = std::move(SLUICE_CONCAT(_res_, __LINE__)).value()
