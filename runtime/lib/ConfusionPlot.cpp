//===- ConfusionPlot.cpp - The confusion matrix as a heat map -------------===//
//
// Drawn with PLplot's pngcairo device as the training curves are
// (Plot.cpp); what can fail for the user's reasons is checked before PLplot
// runs, since it exits on some errors.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/ConfusionPlot.h"

#include "net/Runtime/Plot.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>

using namespace netc::runtime;

namespace {

enum Colour : PLINT { Background = 0, Ink = 1, Cell = 2, Frame = 3 };

/// White at 0 to dark blue at 1 (matplotlib's "Blues" ends).
void setCellColour(double shade) {
  auto mix = [&](int from, int to) { return PLINT(from + (to - from) * shade + 0.5); };
  plscol0(Cell, mix(255, 8), mix(255, 48), mix(255, 107));
  plcol0(Cell);
}

void drawConfusion(const std::vector<std::vector<int64_t>> &confusion,
                   const std::vector<std::string> &names, const std::string &title,
                   const std::string &path) {
  using L = ConfusionPlotLayout;
  const size_t k = confusion.size();
  const bool labelled = k <= kConfusionPlotMaxLabelledClasses;
  auto name = [&](size_t c) { return c < names.size() ? names[c] : std::to_string(c); };

  PLINT previous, stream;
  plgstrm(&previous);
  plmkstrm(&stream);
  plsdev("pngcairo");
  plsfnam(path.c_str());
  plspage(0, 0, L::kWidth, L::kHeight, 0, 0);
  plscol0(Background, 255, 255, 255);
  plscol0(Ink, 0, 0, 0);
  plscol0(Frame, 160, 160, 160);
  plinit();
  pladv(0);
  // PLplot's viewport counts y from the bottom.
  plvpor(L::kLeft, L::kRight, 1 - L::kBottom, 1 - L::kTop);
  plwind(0, PLFLT(k), 0, PLFLT(k));
  const double textScale = k <= 10 ? 1.0 : k <= 20 ? 0.75 : 0.55;
  for (size_t t = 0; t < k; ++t) {
    int64_t rowTotal = 0;
    for (int64_t v : confusion[t])
      rowTotal += v;
    for (size_t p = 0; p < k; ++p) {
      double share = rowTotal ? double(confusion[t][p]) / double(rowTotal) : 0;
      // The square root, so that a class confused 2 % of the time shows.
      double shade = std::sqrt(share);
      // Row t from the top: the true classes read downwards as in the text table.
      PLFLT x0 = PLFLT(p), y0 = PLFLT(k - 1 - t);
      PLFLT xs[] = {x0, x0 + 1, x0 + 1, x0}, ys[] = {y0, y0, y0 + 1, y0 + 1};
      setCellColour(shade);
      plfill(4, xs, ys);
      if (!labelled)
        continue;
      plcol0(shade > 0.55 ? Background : Ink);
      plschr(0, textScale);
      // plptex's y is the middle of the text's height: centred in the cell.
      plptex(x0 + 0.5, y0 + 0.5, 1, 0, 0.5, std::to_string(confusion[t][p]).c_str());
    }
  }
  plcol0(Frame);
  plwidth(1);
  for (size_t i = 0; i <= k && labelled; ++i) {
    PLFLT line[] = {PLFLT(i), PLFLT(i)}, across[] = {0, PLFLT(k)};
    plline(2, line, across);
    plline(2, across, line);
  }
  plcol0(Ink);
  plbox("bc", 0, 0, "bc", 0, 0);
  plschr(0, textScale);
  for (size_t c = 0; c < k && labelled; ++c) {
    PLFLT along = (PLFLT(c) + 0.5) / PLFLT(k);
    plmtex("b", 1.5, along, 0.5, name(c).c_str());
    plmtex("lv", 1.0, 1 - along, 1.0, name(c).c_str());
  }
  plschr(0, 1.1);
  plmtex("b", 3.5, 0.5, 0.5, "predicted class");
  plmtex("l", 5.0, 0.5, 0.5, "true class");
  plmtex("t", 1.5, 0.5, 0.5, title.c_str());
  plend1();
  plsstrm(previous);
}

} // namespace

Status netc::runtime::renderConfusionMatrix(const std::vector<std::vector<int64_t>> &confusion,
                                            const std::vector<std::string> &names,
                                            const std::string &title, const std::string &path) {
  if (confusion.empty())
    return Status::failure(path + ": a confusion matrix needs at least one class");
  for (const std::vector<int64_t> &row : confusion)
    if (row.size() != confusion.size())
      return Status::failure(path + ": the confusion matrix is not square");
  if (!plotDeviceAvailable())
    return Status::failure("plplot has no 'pngcairo' device (Debian package plplot-driver-cairo)");
  return writePlotAtomically(
      path, [&](const std::string &temp) { drawConfusion(confusion, names, title, temp); });
}
