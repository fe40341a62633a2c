//===- TensorBoardTest.cpp - CRC32C, TFRecord framing and event files -----===//
//
// The reader here is independent of the writer: it parses the framing and
// the protobuf wire format by hand, so a wrong field number or a wrong CRC
// in the writer fails these tests rather than agreeing with itself.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/TensorBoard.h"

#include "TestSupport.h"

#include <cstring>
#include <optional>
#include <vector>

using namespace netc::runtime;
using netc::test::TempDirTest;

namespace {

TEST(Crc32cTest, PublishedVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  // RFC 3720, appendix B.4.
  std::vector<unsigned char> bytes(32, 0x00);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x8A9136AAu);
  std::fill(bytes.begin(), bytes.end(), 0xFF);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i)
    bytes[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32cTest, Mask) {
  // ((crc >> 15) | (crc << 17)) + 0xa282ead8, with wrap-around.
  EXPECT_EQ(maskCrc32c(0), 0xa282ead8u);
  EXPECT_EQ(maskCrc32c(0xE3069283u), ((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u);
}

uint64_t readLittleEndian(const std::string &bytes, size_t at, int size) {
  uint64_t value = 0;
  for (int i = 0; i < size; ++i)
    value |= uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return value;
}

/// The fields of an Event that the writer sets, decoded from wire format.
struct DecodedEvent {
  std::optional<double> wallTime;
  int64_t step = 0;
  std::optional<std::string> fileVersion;
  std::vector<std::pair<std::string, float>> values; // Summary.Value: tag, simple_value
};

struct WireReader {
  const std::string &bytes;
  size_t at, end;
  bool failed = false;

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64 && at < end; shift += 7) {
      unsigned char byte = static_cast<unsigned char>(bytes[at++]);
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        return value;
    }
    failed = true;
    return 0;
  }
  std::string lengthDelimited() {
    uint64_t size = varint();
    if (failed || size > end - at) {
      failed = true;
      return "";
    }
    std::string out = bytes.substr(at, size);
    at += size;
    return out;
  }
  uint64_t fixed(int size) {
    if (end - at < size_t(size)) {
      failed = true;
      return 0;
    }
    uint64_t value = readLittleEndian(bytes, at, size);
    at += size;
    return value;
  }
};

/// Decodes Summary.Value { string tag = 1; float simple_value = 2; }.
std::optional<std::pair<std::string, float>> decodeValue(const std::string &bytes) {
  WireReader r{bytes, 0, bytes.size()};
  std::pair<std::string, float> value{"", 0.0f};
  while (r.at < r.end && !r.failed) {
    uint64_t key = r.varint();
    if (key == (1 << 3 | 2)) {
      value.first = r.lengthDelimited();
    } else if (key == (2 << 3 | 5)) {
      uint32_t raw = uint32_t(r.fixed(4));
      std::memcpy(&value.second, &raw, 4);
    } else {
      return std::nullopt;
    }
  }
  if (r.failed)
    return std::nullopt;
  return value;
}

/// Decodes the Event fields 1 (double), 2 (varint), 3 (string), 5 (Summary).
std::optional<DecodedEvent> decodeEvent(const std::string &bytes) {
  WireReader r{bytes, 0, bytes.size()};
  DecodedEvent event;
  while (r.at < r.end && !r.failed) {
    uint64_t key = r.varint();
    if (key == (1 << 3 | 1)) {
      uint64_t raw = r.fixed(8);
      double wallTime;
      std::memcpy(&wallTime, &raw, 8);
      event.wallTime = wallTime;
    } else if (key == (2 << 3 | 0)) {
      event.step = int64_t(r.varint());
    } else if (key == (3 << 3 | 2)) {
      event.fileVersion = r.lengthDelimited();
    } else if (key == (5 << 3 | 2)) {
      std::string summary = r.lengthDelimited();
      WireReader s{summary, 0, summary.size()};
      while (s.at < s.end && !s.failed) {
        if (s.varint() != (1 << 3 | 2))
          return std::nullopt;
        auto value = decodeValue(s.lengthDelimited());
        if (!value)
          return std::nullopt;
        event.values.push_back(*value);
      }
      if (s.failed)
        return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (r.failed)
    return std::nullopt;
  return event;
}

/// Splits an event file into its records' data, checking both CRCs of each.
std::vector<std::string> readRecords(const std::string &file) {
  std::vector<std::string> records;
  size_t at = 0;
  while (at < file.size()) {
    EXPECT_GE(file.size() - at, 12u) << "truncated record header at " << at;
    if (file.size() - at < 12)
      break;
    uint64_t length = readLittleEndian(file, at, 8);
    uint32_t lengthCrc = uint32_t(readLittleEndian(file, at + 8, 4));
    EXPECT_EQ(lengthCrc, maskCrc32c(crc32c(file.data() + at, 8))) << "at " << at;
    EXPECT_GE(file.size() - at - 12, length + 4) << "truncated record at " << at;
    if (file.size() - at - 12 < length + 4)
      break;
    std::string data = file.substr(at + 12, length);
    uint32_t dataCrc = uint32_t(readLittleEndian(file, at + 12 + length, 4));
    EXPECT_EQ(dataCrc, maskCrc32c(crc32c(data.data(), data.size()))) << "at " << at;
    records.push_back(data);
    at += 12 + length + 4;
  }
  return records;
}

TEST(TfRecordTest, Framing) {
  std::string record = frameTfRecord("abc");
  ASSERT_EQ(record.size(), 8u + 4 + 3 + 4);
  EXPECT_EQ(readLittleEndian(record, 0, 8), 3u);
  EXPECT_EQ(record.substr(12, 3), "abc");
  EXPECT_EQ(uint32_t(readLittleEndian(record, 15, 4)), maskCrc32c(crc32c("abc", 3)));
}

class TensorBoardWriterTest : public TempDirTest {};

TEST_F(TensorBoardWriterTest, WritesScalarsTensorBoardCanRead) {
  std::string logDir = path("tb/nested");
  Result<TensorBoardWriter> writer = TensorBoardWriter::open(logDir);
  ASSERT_TRUE(writer) << writer.error;
  std::string name = std::filesystem::path(writer->path()).filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  EXPECT_EQ(std::filesystem::path(writer->path()).parent_path(), std::filesystem::path(logDir));

  struct Expected {
    const char *tag;
    float value;
    int64_t step;
  } expected[] = {{"loss", 2.3025851f, 1},
                  {"accuracy", 0.125f, 1},
                  {"loss", 0.75f, 2},
                  {"val_accuracy", 0.9921875f, 2},
                  {"learning_rate", 1e-3f, 300000000000}};
  for (const Expected &e : expected)
    ASSERT_TRUE(writer->scalar(e.tag, e.value, e.step));
  ASSERT_TRUE(writer->flush());

  std::vector<std::string> records = readRecords(netc::test::readFile(writer->path()));
  ASSERT_EQ(records.size(), 1u + std::size(expected));

  auto first = decodeEvent(records[0]);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->fileVersion, "brain.Event:2");
  EXPECT_TRUE(first->values.empty());
  ASSERT_TRUE(first->wallTime);
  double now = double(std::time(nullptr));
  EXPECT_NEAR(*first->wallTime, now, 60);

  for (size_t i = 0; i < std::size(expected); ++i) {
    SCOPED_TRACE(i);
    auto event = decodeEvent(records[i + 1]);
    ASSERT_TRUE(event);
    EXPECT_FALSE(event->fileVersion);
    ASSERT_TRUE(event->wallTime);
    EXPECT_GE(*event->wallTime, *first->wallTime);
    EXPECT_EQ(event->step, expected[i].step);
    ASSERT_EQ(event->values.size(), 1u);
    EXPECT_EQ(event->values[0].first, expected[i].tag);
    EXPECT_EQ(event->values[0].second, expected[i].value);
  }
}

TEST_F(TensorBoardWriterTest, RefusesAnUncreatableDirectory) {
  netc::test::writeFile(path("file"), "not a directory");
  Result<TensorBoardWriter> writer = TensorBoardWriter::open(path("file/tb"));
  ASSERT_FALSE(writer);
  EXPECT_NE(writer.error.find("cannot create directory"), std::string::npos) << writer.error;
}

} // namespace
