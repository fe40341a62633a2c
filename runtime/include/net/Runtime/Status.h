//===- Status.h - Success or the reason for failure --------------*- C++ -*-===//
//
// The runtime's errors are values, never exits or exceptions: Result<T>
// (IDX.h) for a value, Status for an action. Messages start lower-case, have
// no trailing period, and name the file and what was wrong.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_STATUS_H
#define NET_RUNTIME_STATUS_H

#include <string>
#include <utility>

namespace net::runtime {

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

} // namespace net::runtime

#endif // NET_RUNTIME_STATUS_H
