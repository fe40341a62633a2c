//===- Augment.cpp - Random affine augmentation ---------------------------===//

#include "net/Runtime/Augment.h"

#include <algorithm>
#include <cmath>

using namespace netc::runtime;

namespace {

constexpr double kPi = 3.14159265358979323846;

double uniformIn(Random &rng, double low, double high) {
  return low + (high - low) * rng.uniform();
}

/// A shift range as pixels: below 1 it is a fraction of `size` (Keras).
double shiftPixels(double range, int32_t size) { return range < 1 ? range * size : range; }

enum class Fill { Nearest, Constant, Reflect, Wrap };

Fill fillOf(const std::string &mode) {
  if (mode == "constant")
    return Fill::Constant;
  if (mode == "reflect")
    return Fill::Reflect;
  if (mode == "wrap")
    return Fill::Wrap;
  return Fill::Nearest;
}

/// Index `i` of an axis of `size` under the fill mode, or -1 (constant).
int64_t mapIndex(int64_t i, int64_t size, Fill fill) {
  if (i >= 0 && i < size)
    return i;
  switch (fill) {
  case Fill::Nearest:
    return i < 0 ? 0 : size - 1;
  case Fill::Constant:
    return -1;
  case Fill::Reflect: { // d c b a | a b c d | d c b a (scipy's 'reflect')
    int64_t period = 2 * size;
    int64_t k = ((i % period) + period) % period;
    return k < size ? k : period - 1 - k;
  }
  case Fill::Wrap: // a b c d | a b c d (scipy's 'grid-wrap')
    return ((i % size) + size) % size;
  }
  return -1;
}

} // namespace

TransformParams netc::runtime::drawTransform(const AugmentConfig &c, int32_t width,
                                            int32_t height, Random &rng) {
  TransformParams p;
  double rotation = uniformIn(rng, -c.rotationRange, c.rotationRange);
  double dy = shiftPixels(c.heightShiftRange, height);
  double dx = shiftPixels(c.widthShiftRange, width);
  double shiftY = uniformIn(rng, -dy, dy);
  double shiftX = uniformIn(rng, -dx, dx);
  double shear = uniformIn(rng, -c.shearRange, c.shearRange);
  double zoomX = uniformIn(rng, c.zoomLow, c.zoomHigh);
  double zoomY = uniformIn(rng, c.zoomLow, c.zoomHigh);
  bool flip = rng.uniform() < 0.5;
  // A flag that is off gives exactly its neutral value, whatever was drawn.
  if (c.rotationRange > 0)
    p.rotation = rotation;
  if (dy > 0)
    p.shiftY = shiftY;
  if (dx > 0)
    p.shiftX = shiftX;
  if (c.shearRange > 0)
    p.shear = shear;
  if (c.zoomLow != 1 || c.zoomHigh != 1) {
    p.zoomX = zoomX;
    p.zoomY = zoomY;
  }
  p.flip = c.horizontalFlip && flip;
  return p;
}

AffineMap netc::runtime::inverseMap(const TransformParams &p, int32_t width, int32_t height) {
  // Columns of the linear part, built in (x, y); Keras writes the same
  // matrices in (row, column).
  double a = 1, b = 0, d = 0, e = 1; // [[a, b], [d, e]]
  auto then = [&](double m00, double m01, double m10, double m11) { // M * current
    double na = m00 * a + m01 * d, nb = m00 * b + m01 * e;
    double nd = m10 * a + m11 * d, ne = m10 * b + m11 * e;
    a = na, b = nb, d = nd, e = ne;
  };
  if (p.flip)
    then(-1, 0, 0, 1);
  then(p.zoomX, 0, 0, p.zoomY);
  double shear = p.shear * kPi / 180;
  if (p.shear != 0)
    then(std::cos(shear), 0, -std::sin(shear), 1);
  double tx = -p.shiftX, ty = -p.shiftY;
  double theta = p.rotation * kPi / 180;
  double cs = p.rotation != 0 ? std::cos(theta) : 1, sn = p.rotation != 0 ? std::sin(theta) : 0;
  // Rotation after the shift: R (L q + t).
  then(cs, sn, -sn, cs);
  double rtx = cs * tx + sn * ty, rty = -sn * tx + cs * ty;
  double cx = (width - 1) / 2.0, cy = (height - 1) / 2.0;
  AffineMap map;
  map.m[0] = a;
  map.m[1] = b;
  map.m[2] = cx - a * cx - b * cy + rtx;
  map.m[3] = d;
  map.m[4] = e;
  map.m[5] = cy - d * cx - e * cy + rty;
  return map;
}

void netc::runtime::warpImage(const uint8_t *src, int32_t channels, int32_t height,
                             int32_t width, const AffineMap &map, const AugmentConfig &config,
                             float *dst) {
  Fill fill = fillOf(config.fillMode);
  float outside = float(config.fillValue);
  bool nearest = config.interpolation == "nearest";
  int64_t plane = int64_t(height) * width;
  auto at = [&](int32_t c, int64_t x, int64_t y) -> float {
    int64_t mx = mapIndex(x, width, fill), my = mapIndex(y, height, fill);
    if (mx < 0 || my < 0)
      return outside;
    return float(src[c * plane + my * width + mx]);
  };
  for (int32_t y = 0; y < height; ++y)
    for (int32_t x = 0; x < width; ++x) {
      double sx = map.m[0] * x + map.m[1] * y + map.m[2];
      double sy = map.m[3] * x + map.m[4] * y + map.m[5];
      int64_t out = int64_t(y) * width + x;
      if (nearest) {
        int64_t nx = int64_t(std::floor(sx + 0.5)), ny = int64_t(std::floor(sy + 0.5));
        for (int32_t c = 0; c < channels; ++c)
          dst[c * plane + out] = at(c, nx, ny);
        continue;
      }
      double fx0 = std::floor(sx), fy0 = std::floor(sy);
      int64_t x0 = int64_t(fx0), y0 = int64_t(fy0);
      float ax = float(sx - fx0), ay = float(sy - fy0);
      for (int32_t c = 0; c < channels; ++c) {
        float top = at(c, x0, y0) + ax * (at(c, x0 + 1, y0) - at(c, x0, y0));
        float bottom = at(c, x0, y0 + 1) + ax * (at(c, x0 + 1, y0 + 1) - at(c, x0, y0 + 1));
        dst[c * plane + out] = top + ay * (bottom - top);
      }
    }
}

void netc::runtime::augmentBatch(const Samples &samples, const std::vector<int64_t> &order,
                                int64_t first, int64_t n, const AugmentConfig &config,
                                uint64_t stepSeed, const Normalization &norm, float *input,
                                int32_t *labels) {
  int64_t plane = int64_t(samples.height) * samples.width;
  std::vector<float> warped(size_t(samples.sampleSize));
  for (int64_t i = 0; i < n; ++i) {
    int64_t index = order[size_t(first + i)];
    float *dst = input + i * samples.sampleSize;
    labels[i] = samples.labels[size_t(index)];
    Random rng(deriveSeed(stepSeed, 0, uint64_t(i)));
    AffineMap map = inverseMap(drawTransform(config, samples.width, samples.height, rng),
                               samples.width, samples.height);
    if (map.identity()) {
      norm.apply(samples.sample(index), dst, samples.channels, plane);
      continue;
    }
    warpImage(samples.sample(index), samples.channels, samples.height, samples.width, map,
              config, warped.data());
    for (int32_t c = 0; c < samples.channels; ++c)
      for (int64_t k = c * plane; k < (c + 1) * plane; ++k)
        dst[k] = norm.apply(std::clamp(warped[size_t(k)], 0.0f, 255.0f) / 255.0f,
                            norm.mean.size() == 1 ? 0 : size_t(c));
  }
}
