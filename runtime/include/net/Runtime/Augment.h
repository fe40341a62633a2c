//===- Augment.h - Random affine augmentation, as Keras' ImageDataGenerator -*- C++ -*-===//
//
// One affine transform per training image, drawn as Keras'
// ImageDataGenerator.random_transform draws it (rotation, width and height
// shift, shear, zoom in x and y, horizontal flip) and applied by inverse
// mapping: each output pixel samples the source image where the transform
// sends it, bilinearly (Keras' default interpolation_order 1) or at the
// nearest pixel, with points outside the image filled as --fill-mode says
// (scipy.ndimage's nearest, constant, reflect and grid-wrap).
//
// The draws of image i of global step g come from a generator seeded with
// deriveSeed(deriveSeed(run seed, augmentation stream, g), 0, i): a batch is
// a pure function of the run seed, the step and the shuffled order, so a
// resumed run augments as the uninterrupted one, whichever thread prepares
// the batch. Validation and evaluation are never augmented.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_AUGMENT_H
#define NET_RUNTIME_AUGMENT_H

#include "net/Runtime/AugmentConfig.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Random.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// An inverse map: output pixel (x, y) samples the source at
/// (m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]).
struct AffineMap {
  double m[6] = {1, 0, 0, 0, 1, 0};
  bool identity() const {
    return m[0] == 1 && m[1] == 0 && m[2] == 0 && m[3] == 0 && m[4] == 1 && m[5] == 0;
  }
};

/// The parameters of one image's transform.
struct TransformParams {
  double rotation = 0;       // degrees, counter-clockwise as Keras
  double shiftX = 0, shiftY = 0; // pixels; the content moves right and down
  double shear = 0;          // degrees
  double zoomX = 1, zoomY = 1; // above 1 zooms out, as Keras
  bool flip = false;         // horizontal
};

/// Draws one image's parameters (always seven draws, in Keras' order:
/// rotation, height shift, width shift, shear, zoom x, zoom y, flip).
TransformParams drawTransform(const AugmentConfig &config, int32_t width, int32_t height,
                              Random &rng);

/// The inverse map of `p` about the image centre ((w - 1) / 2, (h - 1) / 2):
/// source = c + R (Sh Z F (out - c) - shift), as Keras composes it.
AffineMap inverseMap(const TransformParams &p, int32_t width, int32_t height);

/// Warps one CHW uint8 image through `map` into `dst` as values in [0, 255].
void warpImage(const uint8_t *src, int32_t channels, int32_t height, int32_t width,
               const AffineMap &map, const AugmentConfig &config, float *dst);

/// Samples order[first, first + n) of `samples`, each transformed by its own
/// draw from `stepSeed` (see above) and normalised, into `input`, and their
/// labels into `labels`. An identity draw copies the image exactly.
void augmentBatch(const Samples &samples, const std::vector<int64_t> &order, int64_t first,
                  int64_t n, const AugmentConfig &config, uint64_t stepSeed,
                  const Normalization &norm, float *input, int32_t *labels);

} // namespace netc::runtime

#endif // NET_RUNTIME_AUGMENT_H
