//===- ImageWrite.cpp - PNG files written atomically (stb_image_write) ----===//

#include "net/Runtime/Image.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

using namespace netc::runtime;

namespace {

void appendBytes(void *context, void *data, int size) {
  static_cast<std::string *>(context)->append(static_cast<const char *>(data), size_t(size));
}

/// The temporary file beside `path`: a dot-name, so a folder loader that
/// meets one left by a killed process skips it as hidden.
std::string temporaryFor(const std::string &path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + name + ".tmp." + std::to_string(::getpid());
}

} // namespace

Result<std::string> netc::runtime::encodePng(int32_t width, int32_t height, int32_t channels,
                                             const uint8_t *pixels) {
  std::string bytes;
  if (!stbi_write_png_to_func(appendBytes, &bytes, width, height, channels, pixels,
                              width * channels))
    return Result<std::string>::failure("cannot encode a " + std::to_string(width) + "x" +
                                        std::to_string(height) + " PNG of " +
                                        std::to_string(channels) + " channels");
  return Result<std::string>::success(std::move(bytes));
}

Status netc::runtime::writePng(const std::string &path, int32_t width, int32_t height,
                              int32_t channels, const uint8_t *pixels) {
  Result<std::string> encoded = encodePng(width, height, channels, pixels);
  if (!encoded)
    return Status::failure(path + ": " + encoded.error);
  const std::string &bytes = *encoded;
  std::string temp = temporaryFor(path);
  std::FILE *file = std::fopen(temp.c_str(), "wb");
  if (!file)
    return Status::failure(path + ": cannot write: " + std::strerror(errno));
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  std::string why = ok ? "" : std::strerror(errno);
  if (std::fclose(file) != 0 && ok) {
    ok = false;
    why = std::strerror(errno);
  }
  if (ok && std::rename(temp.c_str(), path.c_str()) != 0) {
    ok = false;
    why = std::strerror(errno);
  }
  if (!ok) {
    ::unlink(temp.c_str());
    return Status::failure(path + ": cannot write: " + why);
  }
  return Status::success();
}
