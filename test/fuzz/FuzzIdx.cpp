//===- FuzzIdx.cpp - libFuzzer target for readIdx -------------------------===//
//
// Any byte string, plain or gzip, must give an IdxArray whose data matches
// its dims, or an error message: never a crash, a leak or a huge allocation.
// The limit is lowered so that a header claiming more than 64 MiB is refused
// rather than attempted (libFuzzer's malloc limit would call it a bug).
//
//===----------------------------------------------------------------------===//
#include "TempFile.h"

#include "net/Runtime/IDX.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  netc::fuzz::TempFile file(data, size, ".idx");
  auto result = netc::runtime::readIdx(file.path(), /*maxBytes=*/uint64_t(64) << 20);
  if (!result) {
    if (result.error.empty())
      std::abort(); // a failure must say why
    return 0;
  }
  uint64_t count = 1;
  for (uint32_t d : result->dims)
    count *= d;
  if (count != result->data.size())
    std::abort(); // dims and data disagree
  return 0;
}
