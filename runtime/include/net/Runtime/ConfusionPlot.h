//===- ConfusionPlot.h - The confusion matrix as a heat map -----*- C++ -*-===//
//
// `netrun eval --out DIR` draws DIR/confusion.png with PLplot: rows are the
// true classes, columns the predicted ones, each cell shaded by the square
// root of its share of its row (white: none, dark blue: all; the root makes
// a 2 % confusion visible) with its count written in it, the class names on
// both axes.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_CONFUSIONPLOT_H
#define NET_RUNTIME_CONFUSIONPLOT_H

#include "net/Runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// The picture's size in pixels and the matrix's place in it, as fractions
/// of the width and of the height from the top left (what a reader of the
/// PNG needs to find a cell: the tests do).
struct ConfusionPlotLayout {
  static constexpr int kWidth = 900, kHeight = 900;
  static constexpr double kLeft = 0.16, kRight = 0.94, kTop = 0.10, kBottom = 0.86;
};

/// Counts and names above this many classes are left out of the cells and
/// the axes (the shading stays): they would not be legible.
constexpr size_t kConfusionPlotMaxLabelledClasses = 30;

/// Writes `path` atomically: `confusion[t][p]` images of true class t
/// predicted as p; `names` labels the classes (their numbers when empty);
/// `title` heads the picture.
Status renderConfusionMatrix(const std::vector<std::vector<int64_t>> &confusion,
                             const std::vector<std::string> &names, const std::string &title,
                             const std::string &path);

} // namespace netc::runtime

#endif // NET_RUNTIME_CONFUSIONPLOT_H
