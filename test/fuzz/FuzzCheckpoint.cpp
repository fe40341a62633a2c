//===- FuzzCheckpoint.cpp - libFuzzer target for readCheckpoint -----------===//
//
// Any byte string must give a Checkpoint or an error message. A checkpoint
// that is accepted must hold tensors whose data matches their shapes, since
// restoreCheckpoint copies them into the model by shape.
//
// The file's payload is guarded by a CRC-32, which random mutations almost
// never keep right, so an input that parses as the outer CheckpointFile is
// read a second time with its magic, version and checksum made valid: that
// lets the fuzzer reach the payload's decoding and checks.
//
//===----------------------------------------------------------------------===//
#include "TempFile.h"

#include "net/Runtime/Checkpoint.h"

#include "proto/checkpoint.pb.h"

#include <zlib.h>

#include <cstdlib>

namespace {

void checkTensors(const std::vector<netc::runtime::NamedTensor> &tensors) {
  for (const auto &t : tensors) {
    uint64_t count = 1;
    for (int64_t d : t.shape) {
      if (d < 0)
        std::abort(); // a negative dimension was accepted
      count *= uint64_t(d);
    }
    if (count != t.data.size())
      std::abort(); // shape and data disagree
  }
}

void readAndCheck(const uint8_t *data, size_t size) {
  netc::fuzz::TempFile file(data, size, ".ckpt");
  auto result = netc::runtime::readCheckpoint(file.path());
  if (!result) {
    if (result.error.empty())
      std::abort(); // a failure must say why
    return;
  }
  checkTensors(result->params);
  checkTensors(result->state);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  readAndCheck(data, size);

  netc::checkpoint::CheckpointFile outer;
  if (!outer.ParseFromArray(data, static_cast<int>(size)))
    return 0;
  const std::string &payload = outer.checkpoint();
  outer.set_magic(0x4b43454e); // "NECK", as Checkpoint.cpp writes it
  outer.set_format_version(1);
  outer.set_crc32(uint32_t(
      ::crc32(0L, reinterpret_cast<const Bytef *>(payload.data()), uInt(payload.size()))));
  std::string fixed;
  if (!outer.SerializeToString(&fixed))
    return 0;
  readAndCheck(reinterpret_cast<const uint8_t *>(fixed.data()), fixed.size());
  return 0;
}
