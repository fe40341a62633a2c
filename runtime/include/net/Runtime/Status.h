//===- Status.h - Success or the reason for failure --------------*- C++ -*-===//
//
// The runtime's errors are values, never exits or exceptions: Result<T> for
// a value, Status for an action; both must be looked at ([[nodiscard]]).
// Messages start lower-case, have no trailing period, and name the file and
// what was wrong. What links LLVM (the compiler, its front ends) uses
// llvm::Expected and llvm::Error instead.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_STATUS_H
#define NET_RUNTIME_STATUS_H

#include <optional>
#include <string>
#include <utility>

namespace netc::runtime {

/// Success, or the message saying why not.
class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }
  static Status failure(std::string message) {
    Status s;
    s.message = std::move(message);
    s.failed = true;
    return s;
  }
  bool ok() const { return !failed; }
  explicit operator bool() const { return ok(); }
  const std::string &error() const { return message; }

private:
  std::string message;
  bool failed = false;
};

/// A value or the reason there is none. The runtime links no LLVM, so this
/// stands in for llvm::Expected.
template <typename T> struct [[nodiscard]] Result {
  std::optional<T> value;
  std::string error;

  static Result failure(std::string message) {
    Result r;
    r.error = std::move(message);
    return r;
  }
  static Result success(T v) {
    Result r;
    r.value = std::move(v);
    return r;
  }
  explicit operator bool() const { return value.has_value(); }
  T &operator*() { return *value; }
  T *operator->() { return &*value; }
};

} // namespace netc::runtime

#endif // NET_RUNTIME_STATUS_H
