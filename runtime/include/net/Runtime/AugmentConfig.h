//===- AugmentConfig.h - The augmentation flags ------------------*- C++ -*-===//
//
// What netrun's augmentation flags set, apart from the transforms that apply
// them (Augment.h), so that a checkpoint can record and check them without
// linking the augmentation code.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_AUGMENTCONFIG_H
#define NET_RUNTIME_AUGMENTCONFIG_H

#include <string>
#include <vector>

namespace netc::runtime {

/// The augmentation flags (saved in checkpoints with the run's flags).
struct AugmentConfig {
  double rotationRange = 0;    // degrees: uniform in [-r, r]
  double widthShiftRange = 0;  // below 1: a fraction of the width; from 1: pixels
  double heightShiftRange = 0; // below 1: a fraction of the height; from 1: pixels
  double zoomLow = 1, zoomHigh = 1; // x and y factors, each uniform in [low, high]
  double shearRange = 0;       // degrees: uniform in [-s, s]
  bool horizontalFlip = false; // half of the images, at random
  std::string fillMode = "nearest"; // nearest, constant, reflect or wrap
  double fillValue = 0;        // constant: the pixel value (0 to 255) outside the image
  std::string interpolation = "bilinear"; // or nearest

  /// Any flag that changes an image.
  bool enabled() const {
    return rotationRange > 0 || widthShiftRange > 0 || heightShiftRange > 0 || zoomLow != 1 ||
           zoomHigh != 1 || shearRange > 0 || horizontalFlip;
  }
};

/// nearest, constant, reflect, wrap.
inline const std::vector<std::string> &fillModeNames() {
  static const std::vector<std::string> names = {"nearest", "constant", "reflect", "wrap"};
  return names;
}

} // namespace netc::runtime

#endif // NET_RUNTIME_AUGMENTCONFIG_H
