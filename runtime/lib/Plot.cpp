//===- Plot.cpp - PNG charts of a training run's history ------------------===//
//
// PLplot (Debian libplplot-dev, device pngcairo from plplot-driver-cairo)
// does the drawing. PLplot ends the process on some internal errors
// (plexit), so what can fail for the user's reasons is checked before it is
// called: the device exists and the output file can be created.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Plot.h"

#include <plplot.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace netc::runtime;

namespace {

constexpr const char *kDevice = "pngcairo";
constexpr int kWidth = 900, kHeight = 600;

// Colour map 0 indices set in drawChart.
enum Colour : PLINT { Background = 0, Ink = 1, Training = 2, Validation = 3, Grid = 4 };

std::vector<std::string> splitCsv(const std::string &line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ','))
    fields.push_back(field);
  if (!line.empty() && line.back() == ',')
    fields.emplace_back();
  return fields;
}

bool parseNumber(std::string text, double &value) {
  while (!text.empty() && (text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  if (text.empty())
    return false;
  char *end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return *end == '\0';
}

bool hasDevice(const char *name) {
  const char *menus[128], *names[128];
  const char **menuList = menus, **nameList = names;
  int count = 128; // In: room in the arrays; out: devices listed.
  plgDevs(&menuList, &nameList, &count);
  return std::any_of(names, names + count,
                     [&](const char *n) { return std::strcmp(n, name) == 0; });
}

/// One curve: its legend entry, colour and points (non-finite ones dropped).
struct Series {
  const char *label;
  PLINT colour;
  std::vector<PLFLT> x, y;
};

Series makeSeries(const char *label, PLINT colour, const std::vector<double> &x,
                  const std::vector<double> &y) {
  Series s{label, colour, {}, {}};
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) {
      s.x.push_back(x[i]);
      s.y.push_back(y[i]);
    }
  return s;
}

struct Chart {
  std::string title, yLabel;
  std::vector<Series> series;
  /// Keeps the y axis within [yFloor, yCeiling] (accuracy: [0, 1]).
  double yFloor = -HUGE_VAL, yCeiling = HUGE_VAL;
  /// Where the legend goes: the corner that the curves leave free (a falling
  /// loss leaves the top right, a rising accuracy the bottom right).
  PLINT legendCorner = PL_POSITION_TOP | PL_POSITION_RIGHT;
};

/// Draws `chart` into `path` with PLplot; the caller checked the device.
void drawChart(const Chart &chart, const std::string &path) {
  double xMin = HUGE_VAL, xMax = -HUGE_VAL, yMin = HUGE_VAL, yMax = -HUGE_VAL;
  for (const Series &s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      xMin = std::min(xMin, s.x[i]);
      xMax = std::max(xMax, s.x[i]);
      yMin = std::min(yMin, s.y[i]);
      yMax = std::max(yMax, s.y[i]);
    }
  if (xMin > xMax) // No finite point: an empty frame.
    xMin = 1, xMax = 1, yMin = 0, yMax = 1;
  if (xMin == xMax)
    xMin -= 0.5, xMax += 0.5;
  // A margin so that the first and last markers are not cut by the frame.
  double xPad = 0.02 * (xMax - xMin);
  xMin -= xPad, xMax += xPad;
  double pad = yMax > yMin ? 0.08 * (yMax - yMin) : std::max(0.05 * std::fabs(yMax), 0.05);
  yMin = std::max(yMin - pad, chart.yFloor);
  yMax = std::min(yMax + pad, chart.yCeiling);
  if (yMin >= yMax)
    yMin -= 0.05, yMax += 0.05;

  PLINT previous, stream;
  plgstrm(&previous);
  plmkstrm(&stream);
  plsdev(kDevice);
  plsfnam(path.c_str());
  plspage(0, 0, kWidth, kHeight, 0, 0);
  plscol0(Background, 255, 255, 255);
  plscol0(Ink, 0, 0, 0);
  plscol0(Training, 31, 119, 180);
  plscol0(Validation, 255, 127, 14);
  plscol0(Grid, 220, 220, 220);
  plinit();
  pladv(0);
  plschr(0, 1.1);
  plvpor(0.1, 0.95, 0.12, 0.9);
  plwind(xMin, xMax, yMin, yMax);
  // Whole epochs on the x axis while they are few enough to label each.
  PLFLT xTick = xMax - xMin <= 12 ? 1 : 0;
  plcol0(Grid);
  plwidth(1);
  plbox("g", xTick, 0, "g", 0, 0);
  plcol0(Ink);
  plbox("bcnst", xTick, 0, "bcnstv", 0, 0);
  pllab("epoch", chart.yLabel.c_str(), chart.title.c_str());

  plwidth(2.5);
  for (const Series &s : chart.series) {
    if (s.x.empty())
      continue;
    plcol0(s.colour);
    plline(PLINT(s.x.size()), s.x.data(), s.y.data());
    if (s.x.size() <= 60)
      plstring(PLINT(s.x.size()), s.x.data(), s.y.data(), "#(728)");
  }

  std::vector<PLINT> options, textColours, lineColours, lineStyles, symbolColours,
      symbolNumbers;
  std::vector<PLFLT> lineWidths, symbolScales;
  std::vector<const char *> texts, symbols;
  for (const Series &s : chart.series) {
    options.push_back(PL_LEGEND_LINE | PL_LEGEND_SYMBOL);
    textColours.push_back(Ink);
    texts.push_back(s.label);
    lineColours.push_back(s.colour);
    lineStyles.push_back(1);
    lineWidths.push_back(2.5);
    symbolColours.push_back(s.colour);
    symbolScales.push_back(1);
    symbolNumbers.push_back(1);
    symbols.push_back("#(728)");
  }
  PLFLT legendWidth, legendHeight;
  pllegend(&legendWidth, &legendHeight, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
           chart.legendCorner | PL_POSITION_INSIDE, /*x=*/0.02, /*y=*/0.03,
           /*plot_width=*/0.08, /*bg_color=*/Background, /*bb_color=*/Ink,
           /*bb_style=*/1, /*nrow=*/0, /*ncolumn=*/0, PLINT(options.size()),
           options.data(), /*text_offset=*/1.0, /*text_scale=*/1.0, /*text_spacing=*/2.0,
           /*text_justification=*/0.0, textColours.data(), texts.data(), nullptr, nullptr,
           nullptr, nullptr, lineColours.data(), lineStyles.data(), lineWidths.data(),
           symbolColours.data(), symbolScales.data(), symbolNumbers.data(), symbols.data());
  plend1();
  plsstrm(previous);
}

/// Draws `chart` into `outDir`/`name`, atomically.
Status writeChart(const Chart &chart, const std::string &outDir, const std::string &name) {
  return writePlotAtomically(outDir + "/" + name,
                             [&](const std::string &temp) { drawChart(chart, temp); });
}

} // namespace

bool netc::runtime::plotDeviceAvailable() { return hasDevice(kDevice); }

Status netc::runtime::writePlotAtomically(const std::string &path,
                                          const std::function<void(const std::string &)> &draw) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  // Created here, where failure is a message, rather than in PLplot, which exits.
  std::FILE *probe = std::fopen(temp.c_str(), "wb");
  if (!probe)
    return Status::failure("cannot create '" + temp + "': " + std::strerror(errno));
  std::fclose(probe);
  draw(temp);
  std::ifstream written(temp, std::ios::binary | std::ios::ate);
  if (!written || written.tellg() <= 0) {
    std::remove(temp.c_str());
    return Status::failure("plplot wrote nothing to '" + temp + "'");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    Status failed =
        Status::failure("cannot rename '" + temp + "' to '" + path + "': " + std::strerror(errno));
    std::remove(temp.c_str());
    return failed;
  }
  return Status::success();
}

Result<TrainingHistory> netc::runtime::readTrainingHistory(const std::string &historyCsv) {
  using R = Result<TrainingHistory>;
  std::ifstream in(historyCsv);
  if (!in)
    return R::failure("cannot open '" + historyCsv + "': " + std::strerror(errno));
  std::string line;
  if (!std::getline(in, line))
    return R::failure(historyCsv + ": expected a header line, got an empty file");
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  std::vector<std::string> header = splitCsv(line);
  const char *names[] = {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"};
  size_t column[5];
  for (int i = 0; i < 5; ++i) {
    auto it = std::find(header.begin(), header.end(), names[i]);
    if (it == header.end())
      return R::failure(historyCsv + ":1: expected a column '" + names[i] + "' in the header");
    column[i] = size_t(it - header.begin());
  }
  TrainingHistory history;
  std::vector<double> *values[] = {&history.epoch, &history.loss, &history.accuracy,
                                   &history.valLoss, &history.valAccuracy};
  for (int lineNo = 2; std::getline(in, line); ++lineNo) {
    if (line.empty() || line == "\r")
      continue;
    std::vector<std::string> fields = splitCsv(line);
    for (int i = 0; i < 5; ++i) {
      double value;
      if (column[i] >= fields.size() || !parseNumber(fields[column[i]], value))
        return R::failure(historyCsv + ":" + std::to_string(lineNo) + ": expected a number in column '" +
                          names[i] + "'");
      values[i]->push_back(value);
    }
  }
  if (history.epoch.empty())
    return R::failure(historyCsv + ": expected at least one epoch, got only the header");
  return R::success(std::move(history));
}

Status netc::runtime::renderTrainingPlots(const std::string &historyCsv,
                                         const std::string &outDir) {
  Result<TrainingHistory> history = readTrainingHistory(historyCsv);
  if (!history)
    return Status::failure(history.error);
  if (!hasDevice(kDevice))
    return Status::failure(std::string("plplot has no '") + kDevice +
                           "' device (Debian package plplot-driver-cairo)");
  const TrainingHistory &h = *history;

  Chart loss{"Training and validation loss", "loss", {}};
  loss.series.push_back(makeSeries("training", Training, h.epoch, h.loss));
  loss.series.push_back(makeSeries("validation", Validation, h.epoch, h.valLoss));
  loss.yFloor = 0;
  if (Status s = writeChart(loss, outDir, "loss.png"); !s)
    return s;

  Chart accuracy{"Training and validation accuracy", "accuracy", {}};
  accuracy.series.push_back(makeSeries("training", Training, h.epoch, h.accuracy));
  accuracy.series.push_back(makeSeries("validation", Validation, h.epoch, h.valAccuracy));
  accuracy.yFloor = 0;
  accuracy.yCeiling = 1;
  accuracy.legendCorner = PL_POSITION_BOTTOM | PL_POSITION_RIGHT;
  return writeChart(accuracy, outDir, "accuracy.png");
}
