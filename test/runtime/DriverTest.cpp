//===- DriverTest.cpp - The netrun command line, in-process and as a binary ===//

#include "TestSupport.h"

#include "net/Runtime/Driver.h"
#include "net/Runtime/Trainer.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

#include <regex>
#include <sstream>
#include <sys/wait.h>

using namespace net::runtime;
using net::test::readFile;
using net::test::TempDirTest;

namespace {

struct Outcome {
  int status = -1;
  std::string out, err;
};

/// netrun in-process.
Outcome netrun(std::vector<std::string> args) {
  std::ostringstream out, err;
  Outcome o;
  o.status = runNetrun(args, DriverStreams{out, err, /*interactive=*/false});
  o.out = out.str();
  o.err = err.str();
  return o;
}

class DriverTest : public TempDirTest {
protected:
  /// The netrun binary, with `args` quoted for the shell.
  Outcome binary(const std::vector<std::string> &args) {
    std::string command = "'" NETRUN_PATH "'";
    for (const std::string &a : args)
      command += " '" + a + "'";
    command += " >'" + path("stdout") + "' 2>'" + path("stderr") + "'";
    int raw = std::system(command.c_str());
    Outcome o;
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    o.out = readFile(path("stdout"));
    o.err = readFile(path("stderr"));
    return o;
  }
  /// One line, "netrun: error: ...", and nothing else on stderr.
  static void expectOneErrorLine(const Outcome &o, const std::string &containing) {
    EXPECT_EQ(o.status, 1);
    EXPECT_EQ(o.err.rfind("netrun: error: ", 0), 0u) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_NE(o.err.find(containing), std::string::npos) << o.err;
  }
};

TEST_F(DriverTest, NoVerbListsTheVerbs) {
  Outcome o = netrun({});
  EXPECT_EQ(o.status, 0);
  for (const char *verb : {"info", "train", "eval", "predict"})
    EXPECT_NE(o.out.find(std::string("\n  ") + verb + " "), std::string::npos) << o.out;
}

TEST_F(DriverTest, AnUnknownVerbSuggestsTheNearest) {
  Outcome o = netrun({"trian", "model.so"});
  expectOneErrorLine(o, "unknown verb 'trian'; did you mean 'train'?");
  o = netrun({"evaluate"});
  expectOneErrorLine(o, "did you mean 'eval'?");
  o = netrun({"xyzzy"});
  expectOneErrorLine(o, "unknown verb 'xyzzy' (verbs: info, train, eval, predict)");
}

TEST_F(DriverTest, OptionsAreCheckedInOnePlace) {
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--epoch", "3"}),
                     "unknown option '--epoch' for 'train'; did you mean '--epochs'?");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--epochs", "three"}),
                     "option '--epochs' expects a positive number of epochs, got 'three'");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--batch"}),
                     "option '--batch' needs a value (N)");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--validation-split=1.5"}),
                     "option '--validation-split' expects a fraction between 0 and 1");
  expectOneErrorLine(netrun({"eval", FIXTURE_ADAM, "--resume"}),
                     "option '--resume' does not apply to 'eval'");
  Outcome help = netrun({"train", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--validation-split F"), std::string::npos) << help.out;
}

TEST_F(DriverTest, InfoPrintsTheLayerTable) {
  Outcome o = netrun({"info", FIXTURE_ADAM});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("Model: \"softmax_regression\""), std::string::npos) << o.out;
  EXPECT_TRUE(std::regex_search(o.out, std::regex(R"( dense_1 \(dense, softmax\) +\(None, 10\) +7,850 +15,720)")))
      << o.out;
  EXPECT_NE(o.out.find("Total params: 7,850\nTrainable params: 7,850\nNon-trainable params: 0\n"),
            std::string::npos)
      << o.out;
  EXPECT_NE(o.out.find("FLOPs per image (forward): 15,720"), std::string::npos);
}

TEST_F(DriverTest, BadModelsAreRefusedWithOneLine) {
  std::string text = path("notes.so");
  net::test::writeFile(text, "hello\n");
  expectOneErrorLine(binary({"info", text}), "not a model: not a shared library");
  expectOneErrorLine(binary({"info", FIXTURE_NOT_A_MODEL}),
                     "not a model: it exports no 'netc_model' symbol");
  expectOneErrorLine(binary({"info", FIXTURE_WRONG_ABI}), "built for model ABI version 99");
  expectOneErrorLine(binary({"info", path("absent.so")}), "cannot open model");
}

TEST_F(DriverTest, BadDataIsRefusedWithOneLine) {
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", path("nowhere"), "--out",
                             path("run")}),
                     path("nowhere") + ": no such directory");
  EXPECT_FALSE(std::filesystem::exists(path("run"))); // nothing created on failure
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--out", path("run")}),
                     "train needs --data NAME|DIR");
  // A truncated images file.
  std::filesystem::create_directories(path("data"));
  std::string header = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28};
  std::string labels = {0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5};
  for (const char *split : {"train", "t10k"}) {
    net::test::writeFile(path("data/") + split + "-images-idx3-ubyte",
                         header + std::string(100, 'x'));
    net::test::writeFile(path("data/") + split + "-labels-idx1-ubyte", labels);
  }
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", path("data")}),
                     path("data/train-images-idx3-ubyte") + ": truncated");
}

TEST_F(DriverTest, AnUnwritableOutIsRefused) {
  SKIP_WITHOUT_MNIST();
  net::test::writeFile(path("file"), "x");
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", net::test::mnistDir(), "--limit",
                             "100", "--out", path("file")}),
                     path("file") + ": exists and is not a directory");
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", net::test::mnistDir(), "--limit",
                             "100", "--out", path("file/run")}),
                     path("file/run") + ": cannot create the output directory");
}

TEST_F(DriverTest, TrainEvalPredictEndToEnd) {
  SKIP_WITHOUT_MNIST();
  std::string out = path("run");
  Outcome t = binary({"train", FIXTURE_ADAM, "--data", net::test::mnistDir(), "--limit", "2000",
                      "--epochs", "2", "--batch", "50", "--seed", "11", "--out", out});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(t.err, "");
  std::regex epochLine(R"(Epoch 2/2 - \d+\.\ds - loss: \d\.\d{4} - accuracy: \d\.\d{4} - )"
                       R"(val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - [\d,]+ images/s\n)");
  EXPECT_TRUE(std::regex_search(t.out, epochLine)) << t.out;
  for (const char *file : {"last.ckpt", "best.ckpt", "history.csv"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
  Result<Checkpoint> last = readCheckpoint(out + "/last.ckpt");
  ASSERT_TRUE(last) << last.error;
  EXPECT_EQ(last->epoch, 2);
  EXPECT_EQ(last->step, 80); // 2 epochs of 2,000 / 50
  EXPECT_EQ(last->run.seed, 11u);
  EXPECT_EQ(last->run.batch, 50);

  Outcome e = binary({"eval", FIXTURE_ADAM, "--weights", out + "/best.ckpt", "--data",
                      net::test::mnistDir()});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_TRUE(std::regex_search(e.out, std::regex(R"(10,000 images: loss \d\.\d{4}, accuracy 0\.[89]\d{3})")))
      << e.out;
  EXPECT_NE(e.out.find("confusion matrix (rows: true class, columns: predicted)"),
            std::string::npos);

  // A PNG of a test digit, at another size and in colour: converted and resized.
  Result<IdxDataset> mnist = readIdxDataset(net::test::mnistDir());
  ASSERT_TRUE(mnist) << mnist.error;
  const uint8_t *digit = mnist->test.pixels.data(); // test image 0 is a 7
  std::vector<uint8_t> rgb(56 * 56 * 3);
  for (int y = 0; y < 56; ++y)
    for (int x = 0; x < 56; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[size_t((y * 56 + x) * 3 + c)] = digit[(y / 2) * 28 + x / 2];
  std::string png = path("seven.png");
  ASSERT_TRUE(stbi_write_png(png.c_str(), 56, 56, 3, rgb.data(), 56 * 3));
  Outcome p = binary({"predict", FIXTURE_ADAM, "--weights", out + "/best.ckpt", png});
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(p.out.rfind(png + ": class 7 (", 0), 0u) << p.out;
  EXPECT_NE(p.out.find(" 9: 0."), std::string::npos) << p.out;

  expectOneErrorLine(binary({"predict", FIXTURE_ADAM, "--weights", out + "/best.ckpt",
                             path("absent.png")}),
                     path("absent.png") + ": no such image file");
  net::test::writeFile(path("bad.png"), "\x89PNG garbage");
  expectOneErrorLine(binary({"predict", FIXTURE_ADAM, "--weights", out + "/best.ckpt",
                             path("bad.png")}),
                     path("bad.png") + ": cannot decode image");
}

TEST_F(DriverTest, BadWeightsAreRefusedWithOneLine) {
  SKIP_WITHOUT_MNIST();
  std::string data = net::test::mnistDir();
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data}), "--weights FILE is required");
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights", path("x.ckpt")}),
                     path("x.ckpt") + ": cannot open checkpoint");
  // A checkpoint of the SGD build loads for eval (same parameters), and a
  // corrupted one is refused.
  Outcome t = binary({"train", FIXTURE_SGD, "--data", data, "--limit", "500", "--epochs", "1",
                      "--out", path("run")});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights", path("run/last.ckpt")})
                .status,
            0);
  std::string bytes = readFile(path("run/last.ckpt"));
  bytes[bytes.size() / 2] ^= 1;
  net::test::writeFile(path("bad.ckpt"), bytes);
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights", path("bad.ckpt")}),
                     path("bad.ckpt") + ": corrupted checkpoint (checksum mismatch)");
  net::test::writeFile(path("short.ckpt"), bytes.substr(0, 1000));
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights",
                             path("short.ckpt")}),
                     "truncated or corrupted");
  // --resume of an SGD run with the Adam build: the optimizer slots differ.
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", data, "--epochs", "2", "--out",
                             path("run"), "--resume"}),
                     "optimizer slot 0 is 'dense_1.kernel/momentum', the model expects "
                     "'dense_1.kernel/adam_m'");
}

TEST_F(DriverTest, ResumeThroughTheCommandLineMatchesAStraightRun) {
  SKIP_WITHOUT_MNIST();
  std::string data = net::test::mnistDir();
  ASSERT_EQ(binary({"train", FIXTURE_ADAM, "--data", data, "--limit", "1000", "--epochs", "2",
                    "--out", path("straight")})
                .status,
            0);
  ASSERT_EQ(binary({"train", FIXTURE_ADAM, "--data", data, "--limit", "1000", "--epochs", "1",
                    "--out", path("resumed")})
                .status,
            0);
  // --resume takes --limit, seed and batch from the checkpoint.
  Outcome r = binary({"train", FIXTURE_ADAM, "--epochs", "2", "--out", path("resumed"),
                      "--resume"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("resuming from " + path("resumed") + "/last.ckpt after epoch 1"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(readFile(path("straight/last.ckpt")), readFile(path("resumed/last.ckpt")));
  Outcome again = binary({"train", FIXTURE_ADAM, "--out", path("resumed"), "--resume"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
}

TEST(EpochLine, HasTheKerasFormat) {
  EpochStats s;
  s.epoch = 3;
  s.epochs = 12;
  s.seconds = 4.1;
  s.loss = 0.0712;
  s.accuracy = 0.9781;
  s.valLoss = 0.0503;
  s.valAccuracy = 0.9836;
  s.imagesPerSecond = 14634.4;
  EXPECT_EQ(formatEpochLine(s), "Epoch 3/12 - 4.1s - loss: 0.0712 - accuracy: 0.9781 - "
                                "val_loss: 0.0503 - val_accuracy: 0.9836 - 14,634 images/s");
}

TEST(ClosestMatch, FindsNearWordsOnly) {
  std::vector<std::string> verbs = {"info", "train", "eval", "predict"};
  EXPECT_EQ(closestMatch("trian", verbs), "train");
  EXPECT_EQ(closestMatch("pred", verbs), "predict");
  EXPECT_EQ(closestMatch("inof", verbs), "info");
  EXPECT_EQ(closestMatch("compile", verbs), "");
}

} // namespace
