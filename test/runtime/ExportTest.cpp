//===- ExportTest.cpp - ONNX export of a library's graph description ------===//
//
// The exporter writes what the graph text carried in a library says; a
// description it cannot trust (here a dense line without its weight) is
// refused with the library's path and the line's layer, and no file is
// written.
//
//===----------------------------------------------------------------------===//

#include "TestSupport.h"

#include "net/ONNX/Export.h"
#include "net/Runtime/Model.h"

#include <filesystem>

using namespace netc::runtime;
using netc::test::TempDirTest;

namespace {

class ExportTest : public TempDirTest {
protected:
  std::shared_ptr<Instance> open(const char *library) {
    Result<std::shared_ptr<Model>> model = Model::load(library);
    EXPECT_TRUE(model) << model.error;
    Result<std::shared_ptr<Instance>> instance =
        Instance::create(*model, DeviceChoice::Cpu, /*batch=*/4, /*threads=*/1);
    EXPECT_TRUE(instance) << instance.error;
    return *instance;
  }
};

TEST_F(ExportTest, WritesAWellFormedDescription) {
  std::shared_ptr<Instance> instance = open(FIXTURE_WITH_GRAPH);
  Status written = netc::onnx::exportModel(*instance, path("model.onnx"));
  ASSERT_TRUE(written) << written.error();
  EXPECT_GT(std::filesystem::file_size(path("model.onnx")), 10u * 784u * sizeof(float));
}

TEST_F(ExportTest, RefusesALineWithTooFewOperands) {
  std::shared_ptr<Instance> instance = open(FIXTURE_MALFORMED_GRAPH);
  Status written = netc::onnx::exportModel(*instance, path("model.onnx"));
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error(), std::string(FIXTURE_MALFORMED_GRAPH) +
                               ": the library's graph description is malformed: layer "
                               "'dense_1' (dense) has 1 operands, dense takes 2");
  EXPECT_FALSE(std::filesystem::exists(path("model.onnx")));
}

} // namespace
