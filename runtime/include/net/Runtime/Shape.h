//===- Shape.h - A tensor shape as text ---------------------------*- C++ -*-===//
#ifndef NET_RUNTIME_SHAPE_H
#define NET_RUNTIME_SHAPE_H

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// "[10, 784]", as messages name shapes.
inline std::string shapeText(const int64_t *shape, int32_t rank) {
  std::string text = "[";
  for (int32_t i = 0; i < rank; ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

inline std::string shapeText(const std::vector<int64_t> &shape) {
  return shapeText(shape.data(), int32_t(shape.size()));
}

} // namespace netc::runtime

#endif // NET_RUNTIME_SHAPE_H
