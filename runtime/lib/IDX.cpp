//===- IDX.cpp - Reading IDX files (MNIST, Fashion-MNIST) -----------------===//

#include "net/Runtime/IDX.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

using namespace netc::runtime;

namespace {

/// A byte source over a plain or gzip file; gzread reads plain files as they are.
class Source {
public:
  ~Source() {
    if (file)
      gzclose(file);
  }
  bool open(const std::string &path) {
    file = gzopen(path.c_str(), "rb");
    return file != nullptr;
  }
  /// Reads up to `size` bytes; returns how many were read, or -1 on error.
  int64_t read(uint8_t *out, uint64_t size) {
    uint64_t done = 0;
    while (done < size) {
      unsigned chunk = unsigned(std::min<uint64_t>(size - done, 1u << 30));
      int n = gzread(file, out + done, chunk);
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      done += uint64_t(n);
    }
    return int64_t(done);
  }
  std::string errorText() {
    int code = 0;
    const char *message = gzerror(file, &code);
    return code == Z_ERRNO ? std::strerror(errno) : message;
  }

private:
  gzFile file = nullptr;
};

bool exists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

} // namespace

Result<IdxArray> netc::runtime::readIdx(const std::string &path, uint64_t maxBytes) {
  using R = Result<IdxArray>;
  if (isDirectory(path))
    return R::failure(path + ": is a directory, expected an IDX file");
  Source source;
  if (!source.open(path))
    return R::failure(path + ": cannot open: " + std::strerror(errno));

  uint8_t magic[4];
  int64_t got = source.read(magic, 4);
  if (got < 0)
    return R::failure(path + ": cannot read: " + source.errorText());
  if (got < 4)
    return R::failure(path + ": truncated: " + std::to_string(got) +
                      " bytes, an IDX header needs at least 4");
  if (magic[0] != 0 || magic[1] != 0)
    return R::failure(path + ": not an IDX file (its first bytes are not 00 00)");
  if (magic[2] != 0x08)
    return R::failure(path + ": IDX element type 0x" +
                      (magic[2] < 16 ? "0" : "") + [&] {
                        char hex[3];
                        std::snprintf(hex, sizeof hex, "%x", magic[2]);
                        return std::string(hex);
                      }() + " is not supported; expected 0x08 (unsigned bytes)");
  unsigned rank = magic[3];
  if (rank < 1 || rank > 4)
    return R::failure(path + ": IDX rank " + std::to_string(rank) +
                      ", expected 1 to 4 dimensions");

  IdxArray array;
  uint64_t total = 1;
  for (unsigned i = 0; i < rank; ++i) {
    uint8_t be[4];
    got = source.read(be, 4);
    if (got != 4)
      return R::failure(path + ": truncated in the header (dimension " +
                        std::to_string(i + 1) + " of " + std::to_string(rank) + ")");
    uint32_t dim = uint32_t(be[0]) << 24 | uint32_t(be[1]) << 16 |
                   uint32_t(be[2]) << 8 | uint32_t(be[3]);
    if (dim == 0)
      return R::failure(path + ": dimension " + std::to_string(i + 1) + " is 0");
    array.dims.push_back(dim);
    // Products of 32-bit dimensions overflow only past 2^64; stop far earlier.
    if (__builtin_mul_overflow(total, uint64_t(dim), &total) || total > maxBytes)
      return R::failure(path + ": header claims more than " +
                        std::to_string(maxBytes >> 20) + " MiB of values; refused");
  }

  // Read in chunks, one byte more than claimed to tell "exact" from
  // "trailing data": memory grows with what the file holds, never with what
  // its header claims. The chunks start at 64 KiB and double: a 12-byte file
  // claiming 12 MB once cost a zeroed 4 MiB chunk, 20 ms under the fuzzer.
  constexpr uint64_t kMaxChunk = uint64_t(1) << 22;
  uint64_t chunk = uint64_t(1) << 16;
  uint64_t have = 0;
  while (have < total + 1) {
    uint64_t want = std::min(chunk, total + 1 - have);
    chunk = std::min(chunk * 2, kMaxChunk);
    array.data.resize(have + want);
    got = source.read(array.data.data() + have, want);
    if (got < 0)
      return R::failure(path + ": cannot read: " + source.errorText());
    have += uint64_t(got);
    if (uint64_t(got) < want)
      break;
  }
  if (have < total)
    return R::failure(path + ": truncated: the header claims " + std::to_string(total) +
                      " values, the file holds " + std::to_string(have));
  if (have > total)
    return R::failure(path + ": more data than the header claims (" +
                      std::to_string(total) + " values)");
  array.data.resize(total);
  return R::success(std::move(array));
}

Result<LabelledImages> netc::runtime::readIdxPair(const std::string &imagesPath,
                                                 const std::string &labelsPath) {
  using R = Result<LabelledImages>;
  auto images = readIdx(imagesPath);
  if (!images)
    return R::failure(images.error);
  if (images->dims.size() != 3)
    return R::failure(imagesPath + ": images need 3 dimensions (count, height, width), got " +
                      std::to_string(images->dims.size()));
  auto labels = readIdx(labelsPath);
  if (!labels)
    return R::failure(labels.error);
  if (labels->dims.size() != 1)
    return R::failure(labelsPath + ": labels need 1 dimension (count), got " +
                      std::to_string(labels->dims.size()));
  if (labels->dims[0] != images->dims[0])
    return R::failure(labelsPath + ": " + std::to_string(labels->dims[0]) +
                      " labels for the " + std::to_string(images->dims[0]) +
                      " images of " + imagesPath);
  LabelledImages out;
  out.count = images->dims[0];
  out.height = images->dims[1];
  out.width = images->dims[2];
  out.pixels = std::move(images->data);
  out.labels = std::move(labels->data);
  return R::success(std::move(out));
}

Result<IdxDataset> netc::runtime::readIdxDataset(const std::string &directory) {
  using R = Result<IdxDataset>;
  auto locate = [&](const std::string &stem) -> std::string {
    for (const char *suffix : {"", ".gz"}) {
      std::string path = directory + "/" + stem + suffix;
      if (exists(path))
        return path;
    }
    return "";
  };
  IdxDataset dataset;
  for (auto [split, prefix] : {std::pair{&dataset.train, "train"},
                               std::pair{&dataset.test, "t10k"}}) {
    std::string images = locate(std::string(prefix) + "-images-idx3-ubyte");
    std::string labels = locate(std::string(prefix) + "-labels-idx1-ubyte");
    if (images.empty() || labels.empty())
      return R::failure(directory + ": expected " + prefix + "-images-idx3-ubyte and " +
                        prefix + "-labels-idx1-ubyte (plain or .gz) in it");
    auto pair = readIdxPair(images, labels);
    if (!pair)
      return R::failure(pair.error);
    *split = std::move(*pair);
  }
  if (dataset.train.height != dataset.test.height ||
      dataset.train.width != dataset.test.width)
    return R::failure(directory + ": training images are " +
                      std::to_string(dataset.train.height) + "x" +
                      std::to_string(dataset.train.width) + ", test images " +
                      std::to_string(dataset.test.height) + "x" +
                      std::to_string(dataset.test.width));
  return R::success(std::move(dataset));
}

namespace {

/// PREFIX/share/netc/data for the running program at PREFIX/bin; "" when the
/// executable's path is not known.
std::string installedDataDir() {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return "";
  std::string path(self, size_t(n));
  size_t bin = path.rfind('/');
  size_t prefix = bin == std::string::npos || bin == 0 ? std::string::npos
                                                       : path.rfind('/', bin - 1);
  if (prefix == std::string::npos)
    return "";
  return path.substr(0, prefix) + "/share/netc/data";
}

} // namespace

std::vector<std::string> netc::runtime::datasetSearchPath(const std::string &name) {
  std::vector<std::string> dirs;
  if (const char *root = std::getenv("NETC_DATA"); root && *root)
    dirs.push_back(std::string(root) + "/" + name);
  dirs.push_back("./data/" + name);
  if (std::string installed = installedDataDir(); !installed.empty())
    dirs.push_back(installed + "/" + name);
  if (const char *cache = std::getenv("XDG_CACHE_HOME"); cache && *cache == '/')
    dirs.push_back(std::string(cache) + "/netc/datasets/" + name);
  else if (const char *home = std::getenv("HOME"); home && *home)
    dirs.push_back(std::string(home) + "/.cache/netc/datasets/" + name);
  dirs.push_back("/usr/share/datasets/" + name);
  return dirs;
}

Result<std::string> netc::runtime::findDataset(const std::string &nameOrPath) {
  using R = Result<std::string>;
  if (nameOrPath.find('/') != std::string::npos || isDirectory(nameOrPath)) {
    if (isDirectory(nameOrPath))
      return R::success(nameOrPath);
    return R::failure(nameOrPath + ": no such directory");
  }
  std::vector<std::string> tried = datasetSearchPath(nameOrPath);
  for (const std::string &dir : tried)
    if (isDirectory(dir))
      return R::success(dir);
  std::string where;
  for (const std::string &dir : tried)
    where += (where.empty() ? "" : ", ") + dir;
  return R::failure("dataset '" + nameOrPath + "' not found (looked in " + where +
                    "); put its folder in one of them (docs/netrun.md, \"Datasets\"), set "
                    "NETC_DATA to the folder that holds it, or give its path; in a checkout "
                    "./setup.sh fills data/ with mnist and fashion-mnist");
}
