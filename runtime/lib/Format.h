//===- Format.h - One number printed by a printf format --------*- C++ -*-===//
//
// Private to runtime/lib: the runtime's messages and report lines.
//
//===----------------------------------------------------------------------===//

#ifndef NET_RUNTIME_LIB_FORMAT_H
#define NET_RUNTIME_LIB_FORMAT_H

#include <cstdio>
#include <string>

namespace netc::runtime {

/// `value` printed by `format` ("%.4f", "%g"), at most 63 characters.
inline std::string formatNumber(const char *format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

} // namespace netc::runtime

#endif // NET_RUNTIME_LIB_FORMAT_H
