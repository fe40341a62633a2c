//===- IDX.h - Reading IDX files (MNIST, Fashion-MNIST) ---------*- C++ -*-===//
//
// The IDX format (LeCun's MNIST files): a 4-byte magic (0, 0, type, rank),
// `rank` big-endian 32-bit dimensions, then the values. Files may be gzip
// compressed. Everything a file claims is checked against what it holds
// before anything is allocated: a header that claims 10^12 images is refused
// with a message, never attempted.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_IDX_H
#define NET_RUNTIME_IDX_H

#include "net/Runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace netc::runtime {

/// An IDX array of unsigned bytes (type 0x08, the type of every MNIST-like file).
struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;
};

/// Largest payload accepted by default: 4 GiB, far above any MNIST-like file.
constexpr uint64_t kMaxIdxBytes = uint64_t(4) << 30;

/// Reads `path`, plain or gzip (detected by its magic bytes).
Result<IdxArray> readIdx(const std::string &path, uint64_t maxBytes = kMaxIdxBytes);

/// Images (N, H, W) with their labels (N), from one pair of IDX files.
struct LabelledImages {
  uint32_t count = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels; // count * height * width, row-major
  std::vector<uint8_t> labels; // count
};

/// Reads and cross-checks an images file and a labels file: ranks 3 and 1,
/// the same count.
Result<LabelledImages> readIdxPair(const std::string &imagesPath,
                                   const std::string &labelsPath);

/// An MNIST-layout directory: train-images-idx3-ubyte, train-labels-idx1-ubyte,
/// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each plain or with .gz.
struct IdxDataset {
  LabelledImages train;
  LabelledImages test;
};

Result<IdxDataset> readIdxDataset(const std::string &directory);

/// The folders a dataset named `name` is looked for in, in order:
/// $NETC_DATA/name (when set), data/name (a checkout's, which setup.sh
/// fills), PREFIX/share/netc/data/name beside an installed netrun
/// (PREFIX/bin), the user's cache ${XDG_CACHE_HOME:-$HOME/.cache}/netc/datasets/name
/// (as Keras keeps ~/.keras/datasets), and /usr/share/datasets/name, where
/// Debian's dataset packages put theirs (dataset-fashion-mnist).
std::vector<std::string> datasetSearchPath(const std::string &name);

/// Finds a dataset given by name ("mnist", "fashion-mnist") or by path: a
/// name in datasetSearchPath's folders; the error lists every place it
/// looked and says how to fill one.
Result<std::string> findDataset(const std::string &nameOrPath);

} // namespace netc::runtime

#endif // NET_RUNTIME_IDX_H
