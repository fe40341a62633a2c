//===- Info.cpp - netrun info and netrun plot -------------------------------===//

#include "Verbs.h"

#include "net/Runtime/Plot.h"

#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/Data.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/ImageFolder.h"
#include "net/Runtime/Model.h"
#include "net/Runtime/Summary.h"
#include "net/Runtime/Trainer.h"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace netc::runtime;

namespace netc::runtime::cli {

int runInfo(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "info expects one model: netrun info MODEL.so");
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  s.out << formatSummary((*model)->info(), o.positional[0]);
  return 0;
}

int runPlot(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "plot expects a run directory: netrun plot DIR");
  const std::string &dir = o.positional[0];
  if (Status plotted = renderTrainingPlots(dir + "/history.csv", dir); !plotted)
    return fail(s, plotted.error());
  s.out << "wrote " << dir << "/loss.png and " << dir << "/accuracy.png\n";
  return 0;
}

/// The flags of a training run: explicit flags first, then (with --resume)

} // namespace netc::runtime::cli
