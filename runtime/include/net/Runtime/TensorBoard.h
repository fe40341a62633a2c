//===- TensorBoard.h - Scalars in TensorBoard's event files ------*- C++ -*-===//
//
// TensorBoardWriter appends scalar, histogram and image summaries to an
// event file that
// TensorBoard reads (`tensorboard --logdir DIR`), with no TensorFlow:
//
//   DIR/events.out.tfevents.<unix seconds>.<hostname>
//
// The file is a sequence of TFRecords, each
//
//   uint64 length (little-endian)
//   uint32 masked CRC32C of those 8 length bytes
//   length bytes of data: one serialised Event (runtime/proto/tensorboard_event.proto)
//   uint32 masked CRC32C of the data
//
// where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8. The first
// record is an Event with file_version "brain.Event:2"; each scalar(),
// histogram() and image() is one Event with one Summary.Value. This header keeps protobuf out of the
// runtime's interface.
//
//===----------------------------------------------------------------------===//
#ifndef NET_RUNTIME_TENSORBOARD_H
#define NET_RUNTIME_TENSORBOARD_H

#include "net/Runtime/IDX.h"
#include "net/Runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace netc::runtime {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses;
/// crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void *data, size_t size);

/// The CRC as TFRecord stores it: rotated right by 15 bits plus 0xa282ead8.
uint32_t maskCrc32c(uint32_t crc);

/// One TFRecord around `data`: length, masked CRC of the length, data,
/// masked CRC of the data.
std::string frameTfRecord(const std::string &data);

/// Appends scalar summaries to one TensorBoard event file.
class TensorBoardWriter {
public:
  /// Creates `dir` if needed and a new event file in it, and writes the
  /// file_version record.
  static Result<TensorBoardWriter> open(const std::string &dir);

  /// Appends the value of `tag` (e.g. "loss", "val_accuracy") at `step`
  /// (netrun: the epoch), stamped with the current wall time.
  Status scalar(const std::string &tag, float value, int64_t step);

  /// Appends a histogram of `values` as `tag` at `step`: min, max, count,
  /// sum and sum of squares, and the counts of `buckets` equal-width
  /// buckets from min to max (one bucket when they are equal). Non-finite
  /// values are left out of all of them.
  Status histogram(const std::string &tag, const float *values, size_t count, int64_t step,
                   int buckets = kHistogramBuckets);

  /// Appends an image as `tag` at `step`: `pixels` HWC, `channels` 1 to 4,
  /// encoded as PNG.
  Status image(const std::string &tag, const uint8_t *pixels, int32_t width, int32_t height,
               int32_t channels, int64_t step);

  static constexpr int kHistogramBuckets = 30;

  /// Hands buffered records to the operating system, so that TensorBoard
  /// running beside the training sees them.
  Status flush();

  /// The event file's path.
  const std::string &path() const { return filePath; }

private:
  TensorBoardWriter() = default;
  Status writeRecord(const std::string &event);

  struct CloseFile {
    void operator()(std::FILE *f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, CloseFile> file;
  std::string filePath;
};

} // namespace netc::runtime

#endif // NET_RUNTIME_TENSORBOARD_H
