//===- TempFile.h - The fuzzer's input as a file ----------------*- C++ -*-===//
//
// The runtime's readers take paths, so each input is written to a file of
// its own under $TMPDIR (or /tmp), read back by the reader under test, and
// removed. mkstemp gives every process of `-jobs=N` a name of its own.
//
//===----------------------------------------------------------------------===//
#ifndef NET_FUZZ_TEMPFILE_H
#define NET_FUZZ_TEMPFILE_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace netc::fuzz {

class TempFile {
public:
  TempFile(const uint8_t *data, size_t size, const char *suffix) {
    const char *dir = std::getenv("TMPDIR");
    std::string pattern = std::string(dir && *dir ? dir : "/tmp") + "/netc-fuzz-XXXXXX" + suffix;
    int fd = ::mkstemps(pattern.data(), static_cast<int>(std::char_traits<char>::length(suffix)));
    if (fd < 0) {
      std::perror("netc-fuzz: mkstemps");
      std::abort();
    }
    for (size_t done = 0; done < size;) {
      ssize_t n = ::write(fd, data + done, size - done);
      if (n <= 0) {
        std::perror("netc-fuzz: write");
        std::abort();
      }
      done += size_t(n);
    }
    ::close(fd);
    path_ = pattern;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;

  const std::string &path() const { return path_; }

private:
  std::string path_;
};

} // namespace netc::fuzz

#endif // NET_FUZZ_TEMPFILE_H
