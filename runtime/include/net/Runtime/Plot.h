//===- Plot.h - PNG charts of a training run's history -----------*- C++ -*-===//
//
// Draws the curves of history.csv with PLplot's pngcairo device: loss.png
// (loss and val_loss per epoch) and accuracy.png (accuracy and val_accuracy
// per epoch), each with axes, labels, a legend and a title.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_PLOT_H
#define NET_RUNTIME_PLOT_H

#include "net/Runtime/IDX.h"
#include "net/Runtime/Status.h"

#include <functional>
#include <string>
#include <vector>

namespace netc::runtime {

/// The columns of history.csv that the charts use, one entry per row.
struct TrainingHistory {
  std::vector<double> epoch, loss, accuracy, valLoss, valAccuracy;
};

/// Reads history.csv (header `epoch,loss,accuracy,val_loss,val_accuracy,...`;
/// columns are found by name), refusing a missing column, a malformed number
/// or a file with no rows.
Result<TrainingHistory> readTrainingHistory(const std::string &historyCsv);

/// Writes `outDir`/loss.png and `outDir`/accuracy.png from `historyCsv`.
/// Each file is written atomically (a temporary file in `outDir`, then
/// rename). Values that are not finite (a diverged loss) are left out.
/// Not thread-safe: PLplot keeps global state.
Status renderTrainingPlots(const std::string &historyCsv, const std::string &outDir);

/// True when PLplot has the PNG device the pictures are drawn with
/// (pngcairo, Debian package plplot-driver-cairo).
bool plotDeviceAvailable();

/// Runs `draw` on a temporary file beside `path` (the file name to give
/// PLplot's plsfnam), then renames it to `path`: a reader never sees half a
/// picture. Fails when the temporary cannot be created or stays empty.
Status writePlotAtomically(const std::string &path,
                           const std::function<void(const std::string &)> &draw);

} // namespace netc::runtime

#endif // NET_RUNTIME_PLOT_H
