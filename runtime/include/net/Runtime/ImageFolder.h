//===- ImageFolder.h - Folders of images, one sub-folder per class -*- C++ -*-===//
//
// As Keras' ImageDataGenerator.flow_from_directory: DIR holds one sub-folder
// per class, the sorted sub-folder names are the classes (label = position),
// and every file under a class folder (its sub-folders too) is an image of
// that class. Images are decoded (decodeImage: its guards against hostile
// files apply), converted to the model's channels and resized to its input
// (imageToPixels), and kept as uint8 Samples at the model's resolution.
//
// A file that does not decode is named and skipped with a warning, or
// refused with `strict`; dot-files (.DS_Store, temporaries) are ignored. A
// folder with no class sub-folders, a single class, a class without images
// or more classes than the model has outputs is refused naming the folder.
//
// exportImages writes an IDX dataset back as such a folder of PNGs.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_IMAGEFOLDER_H
#define NET_RUNTIME_IMAGEFOLDER_H

#include "net/Runtime/Data.h"
#include "net/Runtime/Image.h"
#include "net/Runtime/Status.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace netc::runtime {

struct ImageFolderOptions {
  bool strict = false;  // a file that does not decode is an error, not a warning
  int32_t threads = 0;  // decoding threads; 0: all cores
  int32_t maxClasses = 0; // the model's outputs; 0: no limit
  /// Told each skipped file ("DIR/cat/x.txt: cannot decode image ..."), in order.
  std::function<void(const std::string &)> onWarning;
};

struct ImageFolder {
  std::string directory;
  std::vector<std::string> classNames; // sorted; label i is classNames[i]
  Samples samples;                     // grouped by class, files in sorted order
  std::vector<int64_t> classStart;     // samples of class c: [classStart[c], classStart[c+1])
  std::vector<std::string> files;      // the file of each sample
  int64_t skipped = 0;                 // files that did not decode
};

/// The sorted sub-folders of an image folder, dot-folders left out: its
/// classes.
std::vector<std::string> classFolders(const std::string &directory);

/// Every file under `folder`, its sub-folders too, sorted by path; dot-files
/// and dot-folders left out. What an image folder's class folder holds, and
/// what `netrun predict FOLDER` predicts.
std::vector<std::string> filesUnder(const std::string &folder);

/// True when `path` is a folder that looks like an image folder rather than
/// an IDX dataset (it has sub-folders and no train-images-idx3-ubyte file).
bool isImageFolder(const std::string &path);

/// Reads `directory` for a model whose input is `geometry`.
Result<ImageFolder> loadImageFolder(const std::string &directory, const ImageGeometry &geometry,
                                    const ImageFolderOptions &options);

/// Moves a fraction of each class into a validation set as Keras'
/// validation_split does for a folder: the first floor(fraction * n) files
/// (sorted) of each class of n files.
Samples splitFolderValidation(ImageFolder &folder, double fraction);

struct ExportOptions {
  std::string outDir;
  int64_t perClass = 0;         // images per class (fewer when the split has fewer)
  std::vector<int32_t> classes; // the labels to export; empty: all
  bool testSplit = false;       // the t10k files instead of the training ones
};

/// Writes OUT/<label>/<index>.png for the first `perClass` images of each
/// label of the split (index: the image's position in the IDX file, five
/// digits or more; labels as decimal numbers, zero-padded to sort in order).
/// Each file is written atomically. Returns the number of files written.
Result<int64_t> exportImages(const LabelledImages &images, const std::string &source,
                             const ExportOptions &options);

} // namespace netc::runtime

#endif // NET_RUNTIME_IMAGEFOLDER_H
