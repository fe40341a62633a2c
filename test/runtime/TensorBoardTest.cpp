//===- TensorBoardTest.cpp - CRC32C, TFRecord framing and event files -----===//
//
// The reader here is independent of the writer: it parses the framing and
// the protobuf wire format by hand, so a wrong field number or a wrong CRC
// in the writer fails these tests rather than agreeing with itself.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/TensorBoard.h"

#include "TestSupport.h"

#include "Netrun.h"
#include "net/Runtime/Checkpoint.h"
#include "net/Runtime/IDX.h"
#include "net/Runtime/Image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>
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

/// HistogramProto, decoded.
struct DecodedHistogram {
  double min = 0, max = 0, num = 0, sum = 0, sumSquares = 0;
  std::vector<double> bucketLimit, bucket;
};

/// Summary.Image, decoded.
struct DecodedImage {
  int64_t height = 0, width = 0, colorspace = 0;
  std::string png;
};

/// Summary.Value: its tag and the one of its values it holds.
struct DecodedValue {
  std::string tag;
  std::optional<float> simple;
  std::optional<DecodedHistogram> histogram;
  std::optional<DecodedImage> image;
};

/// The fields of an Event that the writer sets, decoded from wire format.
struct DecodedEvent {
  std::optional<double> wallTime;
  int64_t step = 0;
  std::optional<std::string> fileVersion;
  std::vector<DecodedValue> values;
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

double asDouble(uint64_t raw) {
  double value;
  std::memcpy(&value, &raw, 8);
  return value;
}

/// Decodes HistogramProto: doubles 1 to 5, packed doubles 6 and 7.
std::optional<DecodedHistogram> decodeHistogram(const std::string &bytes) {
  WireReader r{bytes, 0, bytes.size()};
  DecodedHistogram h;
  double *scalars[] = {&h.min, &h.max, &h.num, &h.sum, &h.sumSquares};
  while (r.at < r.end && !r.failed) {
    uint64_t key = r.varint();
    uint64_t field = key >> 3;
    if (field >= 1 && field <= 5 && (key & 7) == 1) {
      *scalars[field - 1] = asDouble(r.fixed(8));
    } else if ((field == 6 || field == 7) && (key & 7) == 2) {
      std::string packed = r.lengthDelimited();
      WireReader p{packed, 0, packed.size()};
      while (p.at < p.end && !p.failed)
        (field == 6 ? h.bucketLimit : h.bucket).push_back(asDouble(p.fixed(8)));
      if (p.failed)
        return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (r.failed)
    return std::nullopt;
  return h;
}

/// Decodes Summary.Image { int32 height = 1; width = 2; colorspace = 3;
/// bytes encoded_image_string = 4; }.
std::optional<DecodedImage> decodeImageValue(const std::string &bytes) {
  WireReader r{bytes, 0, bytes.size()};
  DecodedImage image;
  while (r.at < r.end && !r.failed) {
    uint64_t key = r.varint();
    if (key == (1 << 3 | 0))
      image.height = int64_t(r.varint());
    else if (key == (2 << 3 | 0))
      image.width = int64_t(r.varint());
    else if (key == (3 << 3 | 0))
      image.colorspace = int64_t(r.varint());
    else if (key == (4 << 3 | 2))
      image.png = r.lengthDelimited();
    else
      return std::nullopt;
  }
  if (r.failed)
    return std::nullopt;
  return image;
}

/// Decodes Summary.Value { string tag = 1; oneof { float simple_value = 2;
/// Image image = 4; HistogramProto histo = 5; } }.
std::optional<DecodedValue> decodeValue(const std::string &bytes) {
  WireReader r{bytes, 0, bytes.size()};
  DecodedValue value;
  while (r.at < r.end && !r.failed) {
    uint64_t key = r.varint();
    if (key == (1 << 3 | 2)) {
      value.tag = r.lengthDelimited();
    } else if (key == (2 << 3 | 5)) {
      uint32_t raw = uint32_t(r.fixed(4));
      float simple;
      std::memcpy(&simple, &raw, 4);
      value.simple = simple;
    } else if (key == (4 << 3 | 2)) {
      value.image = decodeImageValue(r.lengthDelimited());
      if (!value.image)
        return std::nullopt;
    } else if (key == (5 << 3 | 2)) {
      value.histogram = decodeHistogram(r.lengthDelimited());
      if (!value.histogram)
        return std::nullopt;
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
    EXPECT_EQ(event->values[0].tag, expected[i].tag);
    EXPECT_EQ(event->values[0].simple, expected[i].value);
  }
}

/// The one value of each record after the first (the file version).
std::vector<DecodedValue> valuesOf(const std::string &eventFile, std::vector<int64_t> *steps) {
  std::vector<DecodedValue> values;
  std::vector<std::string> records = readRecords(netc::test::readFile(eventFile));
  for (size_t i = 1; i < records.size(); ++i) {
    auto event = decodeEvent(records[i]);
    EXPECT_TRUE(event) << "record " << i;
    if (!event)
      continue;
    EXPECT_EQ(event->values.size(), 1u);
    for (DecodedValue &v : event->values) {
      values.push_back(std::move(v));
      if (steps)
        steps->push_back(event->step);
    }
  }
  return values;
}

TEST_F(TensorBoardWriterTest, HistogramsCountTheirValues) {
  Result<TensorBoardWriter> writer = TensorBoardWriter::open(path("tb"));
  ASSERT_TRUE(writer) << writer.error;
  const float values[] = {1, 2, 2, 3, NAN, 10};
  ASSERT_TRUE(writer->histogram("spread", values, 6, 4, /*buckets=*/3));
  const float same[] = {5, 5};
  ASSERT_TRUE(writer->histogram("same", same, 2, 5));
  ASSERT_TRUE(writer->histogram("none", nullptr, 0, 6));
  ASSERT_TRUE(writer->flush());
  std::vector<int64_t> steps;
  std::vector<DecodedValue> decoded = valuesOf(writer->path(), &steps);
  ASSERT_EQ(decoded.size(), 3u);
  EXPECT_EQ(steps, (std::vector<int64_t>{4, 5, 6}));
  ASSERT_TRUE(decoded[0].histogram);
  const DecodedHistogram &h = *decoded[0].histogram;
  EXPECT_EQ(decoded[0].tag, "spread");
  EXPECT_EQ(h.min, 1);
  EXPECT_EQ(h.max, 10);
  EXPECT_EQ(h.num, 5); // the NaN left out
  EXPECT_EQ(h.sum, 18);
  EXPECT_EQ(h.sumSquares, 118);
  EXPECT_EQ(h.bucketLimit, (std::vector<double>{4, 7, 10}));
  EXPECT_EQ(h.bucket, (std::vector<double>{4, 0, 1}));
  ASSERT_TRUE(decoded[1].histogram);
  EXPECT_EQ(decoded[1].histogram->bucketLimit, (std::vector<double>{5}));
  EXPECT_EQ(decoded[1].histogram->bucket, (std::vector<double>{2}));
  ASSERT_TRUE(decoded[2].histogram);
  EXPECT_EQ(decoded[2].histogram->num, 0);
}

TEST_F(TensorBoardWriterTest, ImagesArePngs) {
  Result<TensorBoardWriter> writer = TensorBoardWriter::open(path("tb"));
  ASSERT_TRUE(writer) << writer.error;
  const uint8_t rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9, 200, 100, 50, 1, 2, 3};
  ASSERT_TRUE(writer->image("picture", rgb, 3, 2, 3, 0));
  ASSERT_TRUE(writer->flush());
  std::vector<DecodedValue> decoded = valuesOf(writer->path(), nullptr);
  ASSERT_EQ(decoded.size(), 1u);
  ASSERT_TRUE(decoded[0].image);
  EXPECT_EQ(decoded[0].tag, "picture");
  EXPECT_EQ(decoded[0].image->height, 2);
  EXPECT_EQ(decoded[0].image->width, 3);
  EXPECT_EQ(decoded[0].image->colorspace, 3);
  netc::test::writeFile(path("picture.png"), decoded[0].image->png);
  Result<Image> image = decodeImage(path("picture.png"));
  ASSERT_TRUE(image) << image.error;
  EXPECT_EQ(image->pixels, std::vector<uint8_t>(std::begin(rgb), std::end(rgb)));
}

TEST_F(TensorBoardWriterTest, TrainingLogsParameterHistogramsAndImages) {
  SKIP_WITHOUT_MNIST();
  NetrunOutcome run = runNetrunCaptured({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(),
                                         "--limit", "500", "--epochs", "2", "--batch", "50",
                                         "--out", path("run"), "--histograms", "--log-images",
                                         "3"});
  ASSERT_EQ(run.status, 0) << run.err;
  std::string events;
  for (const auto &entry : std::filesystem::directory_iterator(path("run")))
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      events = entry.path().string();
  ASSERT_FALSE(events.empty());
  std::vector<int64_t> steps;
  std::vector<DecodedValue> values = valuesOf(events, &steps);
  Result<Checkpoint> last = readCheckpoint(path("run") + "/last.ckpt");
  ASSERT_TRUE(last) << last.error;
  Result<IdxDataset> mnist = readIdxDataset(netc::test::mnistDir());
  ASSERT_TRUE(mnist) << mnist.error;
  size_t images = 0, lastEpochHistograms = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const DecodedValue &v = values[i];
    if (v.image) {
      // The first training images, in order, at step 0, as PNGs of their pixels.
      std::string tag = "train_images/" + std::to_string(images) + "_label_" +
                        std::to_string(mnist->train.labels[images]);
      EXPECT_EQ(v.tag, tag);
      EXPECT_EQ(steps[i], 0);
      netc::test::writeFile(path("logged.png"), v.image->png);
      Result<Image> image = decodeImage(path("logged.png"));
      ASSERT_TRUE(image) << image.error;
      ASSERT_EQ(image->pixels.size(), 28u * 28u);
      EXPECT_TRUE(std::equal(image->pixels.begin(), image->pixels.end(),
                             mnist->train.pixels.begin() + long(images) * 784));
      ++images;
    }
    if (v.histogram && steps[i] == 2) {
      // The last epoch's histogram of each parameter is of last.ckpt's values.
      ASSERT_EQ(v.tag.rfind("params/", 0), 0u) << v.tag;
      auto param = std::find_if(last->params.begin(), last->params.end(),
                                [&](const NamedTensor &t) { return "params/" + t.name == v.tag; });
      ASSERT_NE(param, last->params.end()) << v.tag;
      double sum = 0;
      for (float x : param->data)
        sum += x;
      EXPECT_EQ(v.histogram->num, double(param->data.size())) << v.tag;
      EXPECT_NEAR(v.histogram->sum, sum, 1e-6 * std::max(1.0, std::fabs(sum))) << v.tag;
      EXPECT_EQ(v.histogram->min, *std::min_element(param->data.begin(), param->data.end()));
      EXPECT_EQ(v.histogram->max, *std::max_element(param->data.begin(), param->data.end()));
      double counted = 0;
      for (double c : v.histogram->bucket)
        counted += c;
      EXPECT_EQ(counted, v.histogram->num);
      ++lastEpochHistograms;
    }
  }
  EXPECT_EQ(images, 3u);
  EXPECT_EQ(lastEpochHistograms, last->params.size());
}

TEST_F(TensorBoardWriterTest, RefusesAnUncreatableDirectory) {
  netc::test::writeFile(path("file"), "not a directory");
  Result<TensorBoardWriter> writer = TensorBoardWriter::open(path("file/tb"));
  ASSERT_FALSE(writer);
  EXPECT_NE(writer.error.find("cannot create directory"), std::string::npos) << writer.error;
}

} // namespace
