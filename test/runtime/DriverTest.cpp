//===- DriverTest.cpp - The netrun command line, in-process and as a binary ===//

#include "TestSupport.h"

#include "Netrun.h"
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

using namespace netc::runtime;
using netc::test::readFile;
using netc::test::TempDirTest;

namespace {

using Outcome = NetrunOutcome;

/// netrun in-process.
Outcome netrun(const std::vector<std::string> &args) { return runNetrunCaptured(args); }

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
  /// The netrun binary with `env` (VAR=VALUE...) and the raw wait status, so
  /// that a death by signal shows (the shell execs it).
  int binaryWithEnv(const std::vector<std::string> &env, const std::vector<std::string> &args,
                    Outcome &o) {
    std::string command = "exec env";
    for (const std::string &e : env)
      command += " '" + e + "'";
    command += " '" NETRUN_PATH "'";
    for (const std::string &a : args)
      command += " '" + a + "'";
    command += " >'" + path("stdout") + "' 2>'" + path("stderr") + "'";
    int raw = std::system(command.c_str());
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    o.out = readFile(path("stdout"));
    o.err = readFile(path("stderr"));
    return raw;
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
  expectOneErrorLine(
      o, "unknown verb 'xyzzy' (verbs: info, train, eval, predict, plot, show, export-images, export)");
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
  // One dash, as netc's '-o': named, with the verb's option it stands for.
  expectOneErrorLine(netrun({"export", FIXTURE_ADAM, "--weights", "w.ckpt", "-o", "m.onnx"}),
                     "unknown option '-o' for 'export': options start with '--'; did you mean "
                     "'--onnx'?");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "-data", "mnist"}),
                     "unknown option '-data' for 'train': options start with '--'; did you "
                     "mean '--data'?");
  // After '--' an argument is a path, whatever its first character.
  expectOneErrorLine(netrun({"info", "--", "-model.so"}), "-model.so");
  Outcome help = netrun({"train", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--validation-split F"), std::string::npos) << help.out;
  // A flag wider than the column stands on its own line, never run into its help.
  EXPECT_NE(help.out.find("  --monitor val_loss|val_accuracy\n"), std::string::npos) << help.out;
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
  netc::test::writeFile(text, "hello\n");
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
    netc::test::writeFile(path("data/") + split + "-images-idx3-ubyte",
                         header + std::string(100, 'x'));
    netc::test::writeFile(path("data/") + split + "-labels-idx1-ubyte", labels);
  }
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", path("data")}),
                     path("data/train-images-idx3-ubyte") + ": truncated");
}

TEST_F(DriverTest, AnUnwritableOutIsRefused) {
  SKIP_WITHOUT_MNIST();
  netc::test::writeFile(path("file"), "x");
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit",
                             "100", "--out", path("file")}),
                     path("file") + ": exists and is not a directory");
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit",
                             "100", "--out", path("file/run")}),
                     path("file/run") + ": cannot create the output directory");
}

TEST_F(DriverTest, TrainEvalPredictEndToEnd) {
  SKIP_WITHOUT_MNIST();
  std::string out = path("run");
  Outcome t = binary({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit", "2000",
                      "--epochs", "2", "--batch", "50", "--seed", "11", "--out", out});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(t.err, "");
  std::regex epochLine(R"(Epoch 2/2 - \d+\.\ds - loss: \d\.\d{4} - accuracy: \d\.\d{4} - )"
                       R"(val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - [\d,]+ images/s\n)");
  EXPECT_TRUE(std::regex_search(t.out, epochLine)) << t.out;
  // What a run leaves behind: checkpoints, history, plots, TensorBoard events.
  for (const char *file : {"last.ckpt", "best.ckpt", "history.csv", "config.txt", "loss.png",
                           "accuracy.png"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
  int events = 0;
  for (const auto &entry : std::filesystem::directory_iterator(out))
    events += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(events, 1);
  std::filesystem::remove(out + "/loss.png");
  Outcome plot = binary({"plot", out});
  ASSERT_EQ(plot.status, 0) << plot.err;
  EXPECT_TRUE(std::filesystem::exists(out + "/loss.png"));
  Result<Checkpoint> last = readCheckpoint(out + "/last.ckpt");
  ASSERT_TRUE(last) << last.error;
  EXPECT_EQ(last->epoch, 2);
  EXPECT_EQ(last->step, 80); // 2 epochs of 2,000 / 50
  EXPECT_EQ(last->run.seed, 11u);
  EXPECT_EQ(last->run.batch, 50);

  Outcome e = binary({"eval", FIXTURE_ADAM, "--weights", out + "/best.ckpt", "--data",
                      netc::test::mnistDir()});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_TRUE(std::regex_search(e.out, std::regex(R"(10,000 images: loss \d\.\d{4}, accuracy 0\.[89]\d{3})")))
      << e.out;
  EXPECT_NE(e.out.find("confusion matrix (rows: true class, columns: predicted)"),
            std::string::npos);

  // A PNG of a test digit, at another size and in colour: converted and resized.
  Result<IdxDataset> mnist = readIdxDataset(netc::test::mnistDir());
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
  netc::test::writeFile(path("bad.png"), "\x89PNG garbage");
  expectOneErrorLine(binary({"predict", FIXTURE_ADAM, "--weights", out + "/best.ckpt",
                             path("bad.png")}),
                     path("bad.png") + ": cannot decode image");
}

TEST_F(DriverTest, BadWeightsAreRefusedWithOneLine) {
  SKIP_WITHOUT_MNIST();
  std::string data = netc::test::mnistDir();
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data}), "--weights FILE is required");
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights", path("x.ckpt")}),
                     path("x.ckpt") + ": cannot open checkpoint");
  // The checkpoint is read before the data: a wrong one is refused first,
  // without seconds spent reading images.
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", path("no-data"), "--weights",
                             path("x.ckpt")}),
                     path("x.ckpt") + ": cannot open checkpoint");
  expectOneErrorLine(binary({"predict", FIXTURE_ADAM, "--weights", path("x.ckpt"),
                             path("no-image.png")}),
                     path("x.ckpt") + ": cannot open checkpoint");
  // A checkpoint of the SGD build loads for eval (same parameters), and a
  // corrupted one is refused.
  Outcome t = binary({"train", FIXTURE_SGD, "--data", data, "--limit", "500", "--epochs", "1",
                      "--out", path("run")});
  ASSERT_EQ(t.status, 0) << t.err;
  // export --onnx over the checkpoint it reads (or over the model) is
  // refused, and the file kept.
  const std::string before = readFile(path("run/last.ckpt"));
  expectOneErrorLine(binary({"export", FIXTURE_ADAM, "--weights", path("run/last.ckpt"),
                             "--onnx", path("run/../run/last.ckpt")}),
                     "--onnx " + path("run/../run/last.ckpt") + " is the input '" +
                         path("run/last.ckpt") + "': writing would overwrite it");
  EXPECT_EQ(readFile(path("run/last.ckpt")), before);
  expectOneErrorLine(binary({"export", FIXTURE_ADAM, "--weights", path("run/last.ckpt"),
                             "--onnx", FIXTURE_ADAM}),
                     "--onnx " + std::string(FIXTURE_ADAM) + " is the input");
  EXPECT_EQ(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights", path("run/last.ckpt")})
                .status,
            0);
  std::string bytes = readFile(path("run/last.ckpt"));
  bytes[bytes.size() / 2] ^= 1;
  netc::test::writeFile(path("bad.ckpt"), bytes);
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights", path("bad.ckpt")}),
                     path("bad.ckpt") + ": corrupted checkpoint (checksum mismatch)");
  netc::test::writeFile(path("short.ckpt"), bytes.substr(0, 1000));
  expectOneErrorLine(binary({"eval", FIXTURE_ADAM, "--data", data, "--weights",
                             path("short.ckpt")}),
                     "truncated or corrupted");
  // --resume of an SGD run with the Adam build: the optimizer slots differ.
  expectOneErrorLine(binary({"train", FIXTURE_ADAM, "--data", data, "--epochs", "2", "--out",
                             path("run"), "--resume"}),
                     "optimizer slot 0 is 'dense_1.kernel/momentum', the model expects "
                     "'dense_1.kernel/adam_m'");
}

/// A model with nothing to train trains (as in Keras) with a note saying so;
/// one with trainable parameters gets none.
TEST_F(DriverTest, AModelWithNothingTrainableTrainsWithANote) {
  SKIP_WITHOUT_MNIST();
  std::string data = netc::test::mnistDir();
  Outcome frozen = binary({"train", FIXTURE_FROZEN, "--data", data, "--limit", "200", "--epochs",
                           "1", "--out", path("frozen")});
  ASSERT_EQ(frozen.status, 0) << frozen.err;
  EXPECT_NE(frozen.err.find("netrun: note: " + std::string(FIXTURE_FROZEN) +
                            " has no trainable parameters (all of them are frozen): training "
                            "measures it but leaves it as it is\n"),
            std::string::npos)
      << frozen.err;
  Outcome trained = binary({"train", FIXTURE_ADAM, "--data", data, "--limit", "200", "--epochs",
                            "1", "--out", path("trained")});
  ASSERT_EQ(trained.status, 0) << trained.err;
  EXPECT_EQ(trained.err.find("no trainable parameters"), std::string::npos) << trained.err;
}

/// A batch larger than the training set takes the whole set each step; the
/// instance is made for the set, so a batch far beyond memory still trains.
/// eval and predict make theirs for the images they are given.
TEST_F(DriverTest, ABatchLargerThanTheDataTakesItAllEachStep) {
  SKIP_WITHOUT_MNIST();
  std::string out = path("whole");
  Outcome t = binary({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit", "300",
                      "--epochs", "2", "--batch", "1000000", "--out", out});
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(t.err, "netrun: note: batch 1000000 is more than the 300 training images: each "
                   "step takes them all\n");
  Result<Checkpoint> last = readCheckpoint(out + "/last.ckpt");
  ASSERT_TRUE(last) << last.error;
  EXPECT_EQ(last->step, 2); // one step an epoch
  EXPECT_EQ(last->run.batch, 1000000);

  Outcome e = binary({"eval", FIXTURE_ADAM, "--weights", out + "/last.ckpt", "--data",
                      netc::test::mnistDir(), "--batch", "1000000"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.err, "netrun: note: batch 1000000 is more than the 10,000 images: they run as "
                   "one batch\n");
  EXPECT_NE(e.out.find("10,000 images: loss "), std::string::npos) << e.out;
  Result<IdxDataset> mnist = readIdxDataset(netc::test::mnistDir());
  ASSERT_TRUE(mnist) << mnist.error;
  std::string png = path("digit.png");
  ASSERT_TRUE(stbi_write_png(png.c_str(), 28, 28, 1, mnist->test.pixels.data(), 28));
  Outcome p = binary({"predict", FIXTURE_ADAM, "--weights", out + "/last.ckpt", "--batch",
                      "1000000", png});
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(p.err, "netrun: note: batch 1000000 is more than the 1 image: they run as one "
                   "batch\n");
  EXPECT_EQ(p.out.rfind(png + ": class ", 0), 0u) << p.out;
}

TEST_F(DriverTest, ResumeThroughTheCommandLineMatchesAStraightRun) {
  SKIP_WITHOUT_MNIST();
  std::string data = netc::test::mnistDir();
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

/// Ctrl-C within an epoch: status 130, one line saying how to resume, and a
/// resumed run ends with the uninterrupted run's last.ckpt, byte for byte,
/// for a per-step schedule (one-cycle) and a stateful one (reduce-on-plateau).
TEST_F(DriverTest, AnInterruptedRunResumesToTheSameWeights) {
  SKIP_WITHOUT_MNIST();
  std::string data = netc::test::mnistDir();
  for (std::vector<std::string> schedule :
       {std::vector<std::string>{"--lr-schedule", "one-cycle"},
        std::vector<std::string>{"--lr-schedule", "reduce-on-plateau", "--lr-patience", "1",
                                 "--lr-factor", "0.5"}}) {
    SCOPED_TRACE(schedule[1]);
    std::string straight = path("straight-" + schedule[1]), cut = path("cut-" + schedule[1]);
    std::vector<std::string> args = {"train", FIXTURE_ADAM, "--data", data, "--limit", "1000",
                                     "--batch", "50", "--epochs", "3", "--lr", "0.01"};
    args.insert(args.end(), schedule.begin(), schedule.end());
    auto with = [&](const std::string &out) {
      std::vector<std::string> a = args;
      a.insert(a.end(), {"--out", out});
      return a;
    };
    Outcome o;
    ASSERT_EQ(binaryWithEnv({}, with(straight), o), 0) << o.err;
    // 20 steps per epoch: step 45 is step 5 of epoch 3.
    int raw = binaryWithEnv({"NETRUN_TEST_INTERRUPT_AFTER_STEPS=45"}, with(cut), o);
    ASSERT_TRUE(WIFEXITED(raw)) << raw;
    EXPECT_EQ(WEXITSTATUS(raw), 130) << o.err;
    EXPECT_EQ(o.err, "netrun: interrupted at epoch 3, step 5 of 20; saved " + cut +
                         "/last.ckpt; resume with: netrun train " FIXTURE_ADAM " --data " +
                         data + " --out " + cut + " --resume\n");
    Result<Checkpoint> saved = readCheckpoint(cut + "/last.ckpt");
    ASSERT_TRUE(saved) << saved.error;
    EXPECT_EQ(saved->epoch, 2);
    EXPECT_EQ(saved->epochStep, 5);
    EXPECT_EQ(saved->step, 45);
    EXPECT_EQ(saved->epochSeen, 250);
    Outcome r = binary({"train", FIXTURE_ADAM, "--out", cut, "--resume"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("resuming from " + cut + "/last.ckpt within epoch 3 after step 5"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(readFile(straight + "/last.ckpt"), readFile(cut + "/last.ckpt"));
    EXPECT_EQ(readFile(straight + "/best.ckpt"), readFile(cut + "/best.ckpt"));
    // The history's metrics (all but the timings) are the straight run's.
    auto metrics = [](const std::string &csv) {
      return std::regex_replace(csv, std::regex(R"(,[\d.]+,[\d.]+\n)"), "\n");
    };
    EXPECT_EQ(metrics(readFile(straight + "/history.csv")),
              metrics(readFile(cut + "/history.csv")));
  }
}

/// SIGKILL while a checkpoint is half written leaves the previous one whole.
TEST_F(DriverTest, AKillDuringACheckpointWriteKeepsThePreviousOne) {
  SKIP_WITHOUT_MNIST();
  std::string data = netc::test::mnistDir(), out = path("run");
  std::vector<std::string> args = {"train", FIXTURE_ADAM, "--data", data, "--limit", "500",
                                   "--out", out};
  Outcome o;
  args.insert(args.end(), {"--epochs", "1"});
  ASSERT_EQ(binaryWithEnv({}, args, o), 0) << o.err;
  std::string before = readFile(out + "/last.ckpt");
  int raw = binaryWithEnv({"NETRUN_TEST_KILL_DURING_CHECKPOINT=1"},
                          {"train", FIXTURE_ADAM, "--epochs", "2", "--out", out, "--resume"}, o);
  ASSERT_TRUE(WIFSIGNALED(raw)) << raw << o.err;
  EXPECT_EQ(WTERMSIG(raw), SIGKILL);
  EXPECT_EQ(readFile(out + "/last.ckpt"), before);
  Result<Checkpoint> last = readCheckpoint(out + "/last.ckpt");
  ASSERT_TRUE(last) << last.error;
  EXPECT_EQ(last->epoch, 1);
  // The half-written temporary file is refused, and removed by the next run.
  std::vector<std::string> temporaries;
  for (const auto &entry : std::filesystem::directory_iterator(out))
    if (entry.path().filename().string().find(".ckpt.tmp.") != std::string::npos)
      temporaries.push_back(entry.path().string());
  ASSERT_EQ(temporaries.size(), 1u);
  EXPECT_FALSE(readCheckpoint(temporaries[0]));
  Outcome r = binary({"train", FIXTURE_ADAM, "--epochs", "2", "--out", out, "--resume"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(temporaries[0]));
  Result<Checkpoint> after = readCheckpoint(out + "/last.ckpt");
  ASSERT_TRUE(after) << after.error;
  EXPECT_EQ(after->epoch, 2);
}

TEST_F(DriverTest, ScheduleOptionsAreChecked) {
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--lr-schedule", "cosin"}),
                     "option '--lr-schedule' expects constant, step, exponential, cosine, "
                     "one-cycle or reduce-on-plateau, got 'cosin'; did you mean 'cosine'?");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--lr-scheduel", "step"}),
                     "did you mean '--lr-schedule'?");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--lr-gamma", "0.5"}),
                     "option '--lr-gamma' applies only to --lr-schedule step (the schedule is "
                     "constant)");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--lr-schedule", "cosine", "--lr-patience",
                             "3"}),
                     "option '--lr-patience' applies only to --lr-schedule reduce-on-plateau");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--lr-schedule", "step", "--lr-gamma", "0"}),
                     "option '--lr-gamma' expects a factor in (0, 1], got '0'");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--lr-schedule", "reduce-on-plateau",
                             "--lr-factor", "1"}),
                     "option '--lr-factor' expects a factor in (0, 1), got 1");
}

TEST_F(DriverTest, TheScheduledRateIsInTheHistoryAndTheEpochLine) {
  SKIP_WITHOUT_MNIST();
  Outcome o = netrun({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit", "500",
                      "--epochs", "3", "--lr", "0.01", "--lr-schedule", "step",
                      "--lr-step-size", "2", "--lr-gamma", "0.5", "--out", path("run")});
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("val_accuracy: 0."), std::string::npos);
  EXPECT_NE(o.out.find(" - learning_rate: 0.01 - "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Epoch 3/3 - "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(" - learning_rate: 0.005 - "), std::string::npos) << o.out;
  std::string history = readFile(path("run/history.csv"));
  std::regex row(R"((\d),[\d.]+,[\d.]+,[\d.]+,[\d.]+,([\d.e-]+),)");
  std::vector<std::string> rates;
  for (auto it = std::sregex_iterator(history.begin(), history.end(), row);
       it != std::sregex_iterator(); ++it)
    rates.push_back((*it)[2]);
  EXPECT_EQ(rates, (std::vector<std::string>{"0.01", "0.01", "0.005"})) << history;
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
  // A short name at the start of a long word is not taken for it.
  EXPECT_EQ(closestMatch("lr-scheduel", {"lr", "lr-schedule"}), "lr-schedule");
}

} // namespace

TEST_F(DriverTest, EarlyStoppingOptionsAreChecked) {
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--patience", "3"}),
                     "option '--patience' applies only with --early-stopping");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--restore-best-weights"}),
                     "option '--restore-best-weights' applies only with --early-stopping");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--early-stopping", "--monitor", "val_acc"}),
                     "option '--monitor' expects val_loss or val_accuracy, got 'val_acc'; "
                     "did you mean 'val_accuracy'?");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--early-stopping", "--patience", "-1"}),
                     "option '--patience' expects a non-negative number of epochs, got '-1'");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--early-stopping", "--min-delta", "x"}),
                     "option '--min-delta' expects a non-negative change, got 'x'");
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--early-stoping"}),
                     "did you mean '--early-stopping'?");
}

/// A tiny learning rate: val_loss moves by far less than --min-delta, so the
/// run stops after the first epoch plus the patience.
std::vector<std::string> plateauRun(const std::string &out, const std::string &epochs) {
  return {"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit", "500",
          "--epochs", epochs, "--lr", "1e-7", "--early-stopping", "--patience", "2",
          "--min-delta", "0.01", "--out", out};
}

size_t historyRows(const std::string &path) {
  std::string history = readFile(path);
  return size_t(std::count(history.begin(), history.end(), '\n')) - 1; // less the header
}

TEST_F(DriverTest, EarlyStoppingStopsAPlateauedRun) {
  SKIP_WITHOUT_MNIST();
  Outcome o = netrun(plateauRun(path("run"), "10"));
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(std::regex_search(
      o.out, std::regex(R"(\nEpoch 3: early stopping \(val_loss did not improve by 0\.01 for 2 )"
                        R"(epochs; best \d\.\d{4} at epoch 1\)\n)")))
      << o.out;
  EXPECT_EQ(o.out.find("Epoch 4/10"), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find("Restoring"), std::string::npos) << o.out;
  EXPECT_EQ(historyRows(path("run/history.csv")), 3u);
  Result<Checkpoint> last = readCheckpoint(path("run/last.ckpt"));
  Result<Checkpoint> best = readCheckpoint(path("run/best.ckpt"));
  ASSERT_TRUE(last && best);
  EXPECT_EQ(last->epoch, 3);
  EXPECT_EQ(best->epoch, 1); // best.ckpt follows the monitor
  EXPECT_EQ(last->earlyStopping.stoppedEpoch, 3);
  EXPECT_EQ(last->earlyStopping.bestEpoch, 1);
  EXPECT_EQ(last->earlyStopping.wait, 2);
  EXPECT_TRUE(last->run.earlyStopping.enabled);
  EXPECT_EQ(last->run.earlyStopping.patience, 2);
  EXPECT_NE(last->params[0].data, best->params[0].data); // training moved them a little
  // A stopped run has nothing left to do.
  Outcome again = netrun({"train", FIXTURE_ADAM, "--out", path("run"), "--resume"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to do: " + path("run") + "/last.ckpt was stopped early at "
                           "epoch 3"),
            std::string::npos)
      << again.out;
}

TEST_F(DriverTest, RestoreBestWeightsEndsWithTheBestEpoch) {
  SKIP_WITHOUT_MNIST();
  std::vector<std::string> args = plateauRun(path("run"), "10");
  args.push_back("--restore-best-weights");
  Outcome o = netrun(args);
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("Epoch 3: early stopping"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Restoring model weights from the end of the best epoch: 1"),
            std::string::npos)
      << o.out;
  Result<Checkpoint> last = readCheckpoint(path("run/last.ckpt"));
  Result<Checkpoint> best = readCheckpoint(path("run/best.ckpt"));
  ASSERT_TRUE(last && best);
  EXPECT_EQ(last->epoch, 3);
  ASSERT_EQ(last->params.size(), best->params.size());
  for (size_t i = 0; i < last->params.size(); ++i)
    EXPECT_EQ(last->params[i].data, best->params[i].data) << last->params[i].name;
}

TEST_F(DriverTest, EarlyStoppingResumesExactly) {
  SKIP_WITHOUT_MNIST();
  // Two epochs (the second without improvement: wait 1), then resumed to 10:
  // the state in last.ckpt makes it stop at epoch 3 as a straight run does.
  ASSERT_EQ(netrun(plateauRun(path("straight"), "10")).status, 0);
  Outcome a = netrun(plateauRun(path("resumed"), "2"));
  ASSERT_EQ(a.status, 0) << a.err;
  EXPECT_EQ(a.out.find("early stopping"), std::string::npos) << a.out;
  Outcome b = netrun({"train", FIXTURE_ADAM, "--epochs", "10", "--out", path("resumed"),
                      "--resume"});
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.out.find("Epoch 3: early stopping"), std::string::npos) << b.out;
  EXPECT_EQ(historyRows(path("resumed/history.csv")), 3u);
  Result<Checkpoint> s = readCheckpoint(path("straight/last.ckpt"));
  Result<Checkpoint> r = readCheckpoint(path("resumed/last.ckpt"));
  ASSERT_TRUE(s && r);
  EXPECT_TRUE(s->params[0].data == r->params[0].data);
  EXPECT_TRUE(s->state[0].data == r->state[0].data);
  EXPECT_EQ(s->earlyStopping.best, r->earlyStopping.best);
  EXPECT_EQ(s->earlyStopping.wait, r->earlyStopping.wait);
  EXPECT_EQ(s->earlyStopping.stoppedEpoch, r->earlyStopping.stoppedEpoch);

  // Interrupted within epoch 3 (5 steps an epoch) and resumed, with
  // --restore-best-weights: the same files, byte for byte.
  std::vector<std::string> whole = plateauRun(path("whole"), "10");
  whole.insert(whole.end(), {"--restore-best-weights", "--batch", "100"});
  Outcome w;
  ASSERT_EQ(binaryWithEnv({}, whole, w), 0) << w.err;
  std::vector<std::string> cut = plateauRun(path("cut"), "10");
  cut.insert(cut.end(), {"--restore-best-weights", "--batch", "100"});
  Outcome c;
  binaryWithEnv({"NETRUN_TEST_INTERRUPT_AFTER_STEPS=12"}, cut, c);
  ASSERT_EQ(c.status, 130) << c.err;
  Outcome d = binary({"train", FIXTURE_ADAM, "--out", path("cut"), "--resume"});
  ASSERT_EQ(d.status, 0) << d.err;
  EXPECT_NE(d.out.find("Epoch 3: early stopping"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("Restoring model weights from the end of the best epoch: 1"),
            std::string::npos)
      << d.out;
  EXPECT_TRUE(readFile(path("whole/last.ckpt")) == readFile(path("cut/last.ckpt")));
  EXPECT_TRUE(readFile(path("whole/best.ckpt")) == readFile(path("cut/best.ckpt")));

  // Early stopping's flags on resume need it in the checkpoint or given.
  ASSERT_EQ(netrun({"train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit", "100",
                    "--out", path("plain"), "--epochs", "1"})
                .status,
            0);
  expectOneErrorLine(netrun({"train", FIXTURE_ADAM, "--out", path("plain"), "--resume",
                             "--epochs", "2", "--patience", "1"}),
                     "option '--patience' applies only with --early-stopping (" +
                         path("plain") + "/last.ckpt has none; add --early-stopping)");
}

/// DIR/config.txt: every effective flag, the model, the compiler, the version,
/// the date and the command line.
TEST_F(DriverTest, ConfigTxtRecordsTheRun) {
  SKIP_WITHOUT_MNIST();
  std::string out = path("run");
  std::vector<std::string> args = {
      "train", FIXTURE_ADAM, "--data", netc::test::mnistDir(), "--limit", "300", "--epochs",
      "1", "--batch", "50", "--lr", "0.003", "--seed", "9", "--threads", "1", "--device", "cpu",
      "--lr-schedule", "step", "--lr-step-size", "4", "--lr-gamma", "0.5", "--early-stopping",
      "--monitor", "val_accuracy", "--patience", "2", "--out", out};
  Outcome o = netrun(args);
  ASSERT_EQ(o.status, 0) << o.err;
  std::string config = readFile(out + "/config.txt");
  std::string command = "netrun";
  for (const std::string &a : args)
    command += " " + a;
  for (const std::string &line : std::vector<std::string>{
           "netrun = 0.1.0", "command = " + command, std::string("model = ") + FIXTURE_ADAM,
        std::string("network = softmax_regression"), "data = " + netc::test::mnistDir(),
        "out = " + out, std::string("resume = false"), std::string("epochs = 1"),
        std::string("batch = 50"), std::string("lr = 0.003"), std::string("lr-schedule = step"),
        std::string("lr-step-size = 4"), std::string("lr-gamma = 0.5"),
        std::string("early-stopping = true"), std::string("monitor = val_accuracy"),
        std::string("patience = 2"), std::string("min-delta = 0"),
        std::string("restore-best-weights = false"), std::string("seed = 9"),
        std::string("threads = 1"), std::string("device = cpu"), std::string("limit = 300"),
        std::string("validation-split = 0")})
    EXPECT_NE(config.find("\n" + line + "\n"), std::string::npos) << line << "\n" << config;
  EXPECT_TRUE(std::regex_search(config, std::regex(R"(\ncompiler = \S.*\n)"))) << config;
  EXPECT_TRUE(std::regex_search(config, std::regex(R"(\ndate = \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n)")))
      << config;
  EXPECT_EQ(config.find("lr-decay"), std::string::npos) << config; // not this schedule's
  // --resume rewrites it with the flags taken from the checkpoint.
  Outcome r = netrun({"train", FIXTURE_ADAM, "--epochs", "2", "--out", out, "--resume"});
  ASSERT_EQ(r.status, 0) << r.err;
  config = readFile(out + "/config.txt");
  for (const char *line : {"resume = true", "epochs = 2", "batch = 50", "seed = 9",
                           "limit = 300", "patience = 2", "monitor = val_accuracy"})
    EXPECT_NE(config.find(std::string("\n") + line + "\n"), std::string::npos)
        << line << "\n" << config;
  for (const auto &entry : std::filesystem::directory_iterator(out))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos);
}
