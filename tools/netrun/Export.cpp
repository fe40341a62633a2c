//===- Export.cpp - netrun export and export-images -------------------------===//

#include "Verbs.h"

#include "net/ONNX/Export.h"

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

int runExportImages(const Options &o, DriverStreams &s) {
  if (!o.positional.empty())
    return fail(s, "export-images takes no model: netrun export-images --data mnist --out DIR "
                   "--per-class N");
  if (o.data.empty())
    return fail(s, "export-images needs --data NAME|DIR (an IDX dataset, e.g. --data mnist)");
  if (!o.given.count("out"))
    return fail(s, "export-images needs --out DIR (the image folder to write)");
  Result<std::string> directory = findDataset(o.data);
  if (!directory)
    return fail(s, directory.error);
  Result<IdxDataset> dataset = readIdxDataset(*directory);
  if (!dataset)
    return fail(s, dataset.error);
  ExportOptions options;
  options.outDir = o.out;
  options.perClass = o.perClass > 0 ? o.perClass : int64_t(1) << 40;
  options.classes = o.classes;
  options.testSplit = o.split == "test";
  const LabelledImages &images = options.testSplit ? dataset->test : dataset->train;
  std::string source = *directory + (options.testSplit ? "/t10k" : "/train") + "-images-idx3-ubyte";
  Result<int64_t> written = exportImages(images, source, options);
  if (!written)
    return fail(s, written.error);
  s.out << "wrote " << withThousands(*written) << " PNG images of the " << o.split
        << " split of " << *directory << " into " << o.out << "/<class>/\n";
  return 0;
}

/// netrun export MODEL.so --weights FILE --onnx OUT.onnx
int runExport(const Options &o, DriverStreams &s) {
  if (o.positional.size() != 1)
    return fail(s, "export expects one model: netrun export MODEL.so --weights FILE "
                   "--onnx OUT.onnx");
  if (o.onnx.empty())
    return fail(s, "--onnx FILE is required (the ONNX file to write)");
  if (Status st = outputIsNoInput(o.onnx, "--onnx", {o.positional[0], o.weights}); !st)
    return fail(s, st.error());
  Result<std::shared_ptr<Model>> model = Model::load(o.positional[0]);
  if (!model)
    return fail(s, model.error);
  Result<Checkpoint> weights = readWeights(**model, o);
  if (!weights)
    return fail(s, weights.error);
  Result<std::shared_ptr<Instance>> instance =
      instanceWithWeights(*model, o, /*batch=*/1, *weights);
  if (!instance)
    return fail(s, instance.error);
  if (Status st = netc::onnx::exportModel(**instance, o.onnx); !st)
    return fail(s, st.error());
  s.out << "Exported " << (*model)->info().network << " (" << o.weights << ") to " << o.onnx
        << " (ONNX opset " << netc::onnx::kExportOpset << ")\n";
  return 0;
}

} // namespace netc::runtime::cli
