//===- OpenModel.h - a compiled model's CPU instance for the e2e tests ---===//
#ifndef NETC_TEST_E2E_OPENMODEL_H
#define NETC_TEST_E2E_OPENMODEL_H

#include "net/Runtime/Model.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace netc::test {

/// `library` loaded and instantiated on the CPU with 2 threads, or null
/// after a test failure saying why.
inline std::shared_ptr<runtime::Instance> openModel(const std::string &library, int32_t batch) {
  auto model = runtime::Model::load(library);
  EXPECT_TRUE(model) << model.error;
  if (!model)
    return nullptr;
  auto instance = runtime::Instance::create(*model, runtime::DeviceChoice::Cpu, batch,
                                            /*threads=*/2);
  EXPECT_TRUE(instance) << instance.error;
  return instance ? *instance : nullptr;
}

} // namespace netc::test

#endif // NETC_TEST_E2E_OPENMODEL_H
