//===- TensorBoard.cpp - Scalars in TensorBoard's event files -------------===//
//
// The Events are serialised by protoc's code for tensorboard_event.proto, so
// that one schema, with TensorFlow's field numbers, is the format's source of
// truth as checkpoint.proto is the checkpoints'. The TFRecord framing and
// CRC32C around them are written here.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/TensorBoard.h"

#include "net/Runtime/Image.h"

#include "proto/tensorboard_event.pb.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <unistd.h>
#include <vector>

using namespace netc::runtime;

namespace {

/// The 256 CRCs of one byte for the reflected Castagnoli polynomial.
std::array<uint32_t, 256> makeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    table[i] = crc;
  }
  return table;
}

double wallTime() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0')
    return "localhost";
  return name;
}

void putLittleEndian(std::string &out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(char((value >> (8 * i)) & 0xff));
}

} // namespace

uint32_t netc::runtime::crc32c(const void *data, size_t size) {
  static const std::array<uint32_t, 256> table = makeCrc32cTable();
  const auto *bytes = static_cast<const unsigned char *>(data);
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i)
    crc = table[(crc ^ bytes[i]) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

uint32_t netc::runtime::maskCrc32c(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string netc::runtime::frameTfRecord(const std::string &data) {
  std::string record;
  record.reserve(data.size() + 16);
  putLittleEndian(record, data.size(), 8);
  putLittleEndian(record, maskCrc32c(crc32c(record.data(), 8)), 4);
  record += data;
  putLittleEndian(record, maskCrc32c(crc32c(data.data(), data.size())), 4);
  return record;
}

Result<TensorBoardWriter> TensorBoardWriter::open(const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Result<TensorBoardWriter>::failure("cannot create directory '" + dir +
                                              "': " + ec.message());
  TensorBoardWriter writer;
  writer.filePath = dir + "/events.out.tfevents." + std::to_string(std::time(nullptr)) +
                    "." + hostName();
  // "a": a second writer in the same second appends to, never truncates, the file.
  writer.file.reset(std::fopen(writer.filePath.c_str(), "ab"));
  if (!writer.file)
    return Result<TensorBoardWriter>::failure("cannot create '" + writer.filePath +
                                              "': " + std::strerror(errno));
  netc::tensorboard::Event event;
  event.set_wall_time(wallTime());
  event.set_file_version("brain.Event:2");
  if (Status s = writer.writeRecord(event.SerializeAsString()); !s)
    return Result<TensorBoardWriter>::failure(s.error());
  if (Status s = writer.flush(); !s)
    return Result<TensorBoardWriter>::failure(s.error());
  return Result<TensorBoardWriter>::success(std::move(writer));
}

Status TensorBoardWriter::scalar(const std::string &tag, float value, int64_t step) {
  netc::tensorboard::Event event;
  event.set_wall_time(wallTime());
  event.set_step(step);
  netc::tensorboard::Summary::Value *entry = event.mutable_summary()->add_value();
  entry->set_tag(tag);
  entry->set_simple_value(value);
  return writeRecord(event.SerializeAsString());
}

Status TensorBoardWriter::histogram(const std::string &tag, const float *values, size_t count,
                                    int64_t step, int buckets) {
  netc::tensorboard::HistogramProto h;
  double low = HUGE_VAL, high = -HUGE_VAL, sum = 0, squares = 0, num = 0;
  for (size_t i = 0; i < count; ++i) {
    double v = values[i];
    if (!std::isfinite(v))
      continue;
    low = std::min(low, v);
    high = std::max(high, v);
    sum += v;
    squares += v * v;
    ++num;
  }
  if (num == 0)
    low = high = 0;
  h.set_min(low);
  h.set_max(high);
  h.set_num(num);
  h.set_sum(sum);
  h.set_sum_squares(squares);
  int n = high > low ? std::max(buckets, 1) : 1;
  std::vector<double> counts(size_t(n), 0);
  double width = (high - low) / n;
  for (size_t i = 0; i < count; ++i) {
    double v = values[i];
    if (!std::isfinite(v))
      continue;
    int b = n == 1 ? 0 : std::min(n - 1, int((v - low) / width));
    ++counts[size_t(b)];
  }
  for (int b = 0; b < n; ++b) {
    h.add_bucket_limit(b + 1 == n ? high : low + width * (b + 1));
    h.add_bucket(counts[size_t(b)]);
  }
  netc::tensorboard::Event event;
  event.set_wall_time(wallTime());
  event.set_step(step);
  netc::tensorboard::Summary::Value *entry = event.mutable_summary()->add_value();
  entry->set_tag(tag);
  *entry->mutable_histo() = std::move(h);
  return writeRecord(event.SerializeAsString());
}

Status TensorBoardWriter::image(const std::string &tag, const uint8_t *pixels, int32_t width,
                                int32_t height, int32_t channels, int64_t step) {
  Result<std::string> png = encodePng(width, height, channels, pixels);
  if (!png)
    return Status::failure(filePath + ": image '" + tag + "': " + png.error);
  netc::tensorboard::Event event;
  event.set_wall_time(wallTime());
  event.set_step(step);
  netc::tensorboard::Summary::Value *entry = event.mutable_summary()->add_value();
  entry->set_tag(tag);
  netc::tensorboard::Summary::Image *image = entry->mutable_image();
  image->set_height(height);
  image->set_width(width);
  image->set_colorspace(channels);
  image->set_encoded_image_string(std::move(*png));
  return writeRecord(event.SerializeAsString());
}

Status TensorBoardWriter::flush() {
  assert(file && "flush of a moved-from TensorBoardWriter");
  if (std::fflush(file.get()) != 0)
    return Status::failure("cannot write '" + filePath + "': " + std::strerror(errno));
  return Status::success();
}

Status TensorBoardWriter::writeRecord(const std::string &event) {
  assert(file && "write to a moved-from TensorBoardWriter");
  std::string record = frameTfRecord(event);
  if (std::fwrite(record.data(), 1, record.size(), file.get()) != record.size())
    return Status::failure("cannot write '" + filePath + "': " + std::strerror(errno));
  return Status::success();
}
