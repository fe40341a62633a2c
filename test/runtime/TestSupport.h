//===- TestSupport.h - Shared helpers of the runtime tests ------*- C++ -*-===//
#ifndef NET_TEST_RUNTIME_TESTSUPPORT_H
#define NET_TEST_RUNTIME_TESTSUPPORT_H

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

namespace netc::test {

/// A fresh folder per test, removed afterwards.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("netc-runtime-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::string path(const std::string &name) const { return (dir / name).string(); }
  std::filesystem::path dir;
};

inline std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

/// The MNIST folder installed by setup.sh, or "" (the test then skips).
inline std::string mnistDir() {
  std::string dir = std::string(NETC_SOURCE_DIR) + "/data/mnist";
  return std::filesystem::exists(dir + "/train-images-idx3-ubyte") ||
                 std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")
             ? dir
             : "";
}

#define SKIP_WITHOUT_MNIST()                                                     \
  if (netc::test::mnistDir().empty())                                             \
  GTEST_SKIP() << "MNIST not found in " NETC_SOURCE_DIR "/data/mnist (./setup.sh installs it)"

} // namespace netc::test

#endif // NET_TEST_RUNTIME_TESTSUPPORT_H
