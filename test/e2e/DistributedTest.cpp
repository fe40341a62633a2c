//===- DistributedTest.cpp - netrun train under mpirun, 2 ranks ----------===//
//
// Data-parallel training (docs/distributed.md) run as a user runs it:
// `mpirun -np 2 netrun train ...` on real MNIST, one thread a rank, against
// one process with the same global batch and seed. Built only where MPI is
// (label `mpi`); each test takes a few seconds.
//
//===----------------------------------------------------------------------===//

#include "net/Runtime/Checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using namespace netc::runtime;

namespace {

struct Outcome {
  int status = -1;
  std::string output;
};

/// `command` through the shell, stdout and stderr together.
Outcome run(const std::string &command) {
  Outcome out;
  FILE *pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe)
    return out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;)
    out.output.append(buffer, n);
  int status = ::pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

class Distributed : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    // Open MPI refuses root unless told (CI runs as root).
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ::setenv("NETC_DATA", NETC_SOURCE_DIR "/data", 1);
  }

  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("netc-mpi-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override {
    if (!HasFailure())
      fs::remove_all(dir);
  }

  /// `netrun train MODEL ...` in one process, or on `ranks` ranks with
  /// mpirun's `launcher` flags.
  std::string train(const std::string &model, const std::string &out, const std::string &flags,
                    int ranks, const std::string &launcher = "") const {
    std::string netrun = std::string(NETRUN_BIN) + " train " + model + " --threads 1 --seed 7 " +
                         "--out " + (dir / out).string() + " " + flags;
    if (ranks == 0)
      return netrun;
    return std::string(NETC_MPIEXEC) + " -np " + std::to_string(ranks) +
           " --oversubscribe --bind-to none " + launcher + " " + netrun;
  }

  /// The run in one process (into `one`) and on two ranks (into `two`),
  /// each failing the test unless it succeeds; what the two ranks printed.
  Outcome trainOneAndTwo(const std::string &model, const std::string &flags) const {
    Outcome one = run(train(model, "one", flags, 0));
    EXPECT_EQ(one.status, 0) << one.output;
    Outcome two = run(train(model, "two", flags, 2));
    EXPECT_EQ(two.status, 0) << two.output;
    return two;
  }

  Checkpoint checkpoint(const std::string &path) const {
    Result<Checkpoint> read = readCheckpoint((dir / path).string());
    EXPECT_TRUE(read) << read.error;
    return read ? *read : Checkpoint();
  }

  /// history.csv's columns of each epoch (epoch, loss, accuracy, ...).
  std::vector<std::vector<double>> history(const std::string &out) const {
    std::ifstream file(dir / out / "history.csv");
    std::vector<std::vector<double>> rows;
    std::string line;
    std::getline(file, line); // the header
    while (std::getline(file, line)) {
      std::vector<double> row;
      std::stringstream cells(line);
      for (std::string cell; std::getline(cells, cell, ',');)
        row.push_back(std::atof(cell.c_str()));
      rows.push_back(row);
    }
    return rows;
  }

  fs::path dir;
};

/// The largest difference between two checkpoints' parameters, relative to
/// the largest magnitude of each tensor.
double largestRelativeDifference(const Checkpoint &a, const Checkpoint &b) {
  EXPECT_EQ(a.params.size(), b.params.size());
  double worst = 0;
  for (size_t t = 0; t < std::min(a.params.size(), b.params.size()); ++t) {
    const std::vector<float> &x = a.params[t].data, &y = b.params[t].data;
    EXPECT_EQ(x.size(), y.size()) << a.params[t].name;
    double scale = 1e-30, difference = 0;
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
      scale = std::max(scale, double(std::fabs(x[i])));
      difference = std::max(difference, double(std::fabs(x[i] - y[i])));
    }
    worst = std::max(worst, difference / scale);
    if (std::getenv("NETC_TEST_VERBOSE"))
      std::printf("%-24s largest %.4g, difference %.4g\n", a.params[t].name.c_str(), scale,
                  difference);
  }
  return worst;
}

bool sameBits(const Checkpoint &a, const Checkpoint &b) {
  if (a.params.size() != b.params.size() || a.state.size() != b.state.size() ||
      a.step != b.step)
    return false;
  for (size_t t = 0; t < a.params.size(); ++t)
    if (a.params[t].data != b.params[t].data)
      return false;
  for (size_t t = 0; t < a.state.size(); ++t)
    if (a.state[t].data != b.state[t].data)
      return false;
  return true;
}

// Two ranks of 64 against one process of 128, same seed. The gradients
// agree up to the order of float additions (each rank sums its 64 samples,
// then the two sums are added), so after two steps of SGD the weights agree
// to rounding (measured: 2e-7 of each tensor's largest weight; stated
// tolerance 1e-6). A shard trained twice, a gradient not reduced or a wrong
// share moves them by 1e-3 or more from the first step. Not more steps: once
// rounding flips a max-pool choice or a ReLU, the runs part by more (5 steps
// gave 1e-8 with one set of kernels and 1.6e-3 in conv3's bias, a tensor of
// sums that mostly cancel, with the next, whose single steps agree as well).
TEST_F(Distributed, TwoRanksTrainAsOneProcessWithTheWholeBatch) {
  const std::string flags = "--data mnist --limit 256 --epochs 1 --batch 128";
  Outcome two = trainOneAndTwo(NETC_LENET5_SGD_SO, flags);
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(two.output.find("Data-parallel on Open MPI"), std::string::npos) << two.output;
  // Rank 0 alone reports: one epoch line.
  size_t first = two.output.find("Epoch 1/1");
  ASSERT_NE(first, std::string::npos) << two.output;
  EXPECT_EQ(two.output.find("Epoch 1/1", first + 1), std::string::npos) << two.output;
  Checkpoint a = checkpoint("one/last.ckpt"), b = checkpoint("two/last.ckpt");
  EXPECT_EQ(a.step, 2);
  EXPECT_EQ(b.step, 2);
  EXPECT_LT(largestRelativeDifference(a, b), 1e-6);
}

// 300 steps of lenet5 (Adam) at global batch 128. Past the first tens of
// steps the rounding differences above grow, as between any two orders of
// summation (a ReLU or a max-pool choice flips, and Adam scales tiny
// gradients up), so the runs are compared by what they reach: the epoch's
// loss within 5e-3 (measured 1.2e-3) and the validation accuracy within 0.5
// points.
TEST_F(Distributed, ThreeHundredStepsReachWhatOneProcessReaches) {
  const std::string flags = "--data mnist --limit 38400 --epochs 1 --batch 128";
  Outcome two = trainOneAndTwo(NETC_LENET5_SO, flags);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(checkpoint("two/last.ckpt").step, 300);
  auto h1 = history("one"), h2 = history("two");
  ASSERT_EQ(h1.size(), 1u);
  ASSERT_EQ(h2.size(), 1u);
  EXPECT_NEAR(h1[0][1], h2[0][1], 5e-3) << "loss";
  EXPECT_NEAR(h1[0][4], h2[0][4], 5e-3) << "val_accuracy";
}

// A run interrupted within its second epoch and resumed on the same two
// ranks ends with the same bits as an uninterrupted one; the hash check
// after every epoch (DataParallel.h) kept the ranks' weights identical.
TEST_F(Distributed, ResumeAfterAnInterruptContinuesExactly) {
  const std::string flags = "--data mnist --limit 2560 --epochs 2 --batch 100";
  Outcome whole = run(train(NETC_LENET5_SO, "whole", flags, 2));
  ASSERT_EQ(whole.status, 0) << whole.output;
  // Rank 0 raises SIGINT after its 33rd step; the ranks learn of it with
  // the next step's figures and stop together after it.
  Outcome cut =
      run(train(NETC_LENET5_SO, "cut", flags, 2, "-x NETRUN_TEST_INTERRUPT_AFTER_STEPS=33"));
  ASSERT_EQ(cut.status, 130) << cut.output;
  EXPECT_NE(cut.output.find("interrupted at epoch 2, step 8"), std::string::npos) << cut.output;
  Outcome resumed = run(train(NETC_LENET5_SO, "cut", flags + " --resume", 2));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_TRUE(sameBits(checkpoint("whole/last.ckpt"), checkpoint("cut/last.ckpt")));
}

// Dropout and augmentation draw each rank's own stream from the step's
// seed: a run repeats bit for bit for a given rank count.
TEST_F(Distributed, AugmentedRunsRepeatForAGivenRankCount) {
  const std::string flags =
      "--data mnist --limit 640 --epochs 1 --batch 64 --rotation-range 15 --zoom-range 0.1";
  Outcome first = run(train(NETC_LENET5_SO, "first", flags, 2));
  ASSERT_EQ(first.status, 0) << first.output;
  Outcome second = run(train(NETC_LENET5_SO, "second", flags, 2));
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_TRUE(sameBits(checkpoint("first/last.ckpt"), checkpoint("second/last.ckpt")));
}

// The rank count may change on --resume: the data order, the global batch
// and the optimizer's state do not depend on it.
TEST_F(Distributed, ResumeOnOneProcessAfterTwoRanks) {
  const std::string flags = "--data mnist --limit 2560 --epochs 2 --batch 100";
  Outcome first = run(train(NETC_LENET5_SO, "run", "--data mnist --limit 2560 --epochs 1 --batch 100", 2));
  ASSERT_EQ(first.status, 0) << first.output;
  Outcome resumed = run(train(NETC_LENET5_SO, "run", flags + " --resume", 0));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(checkpoint("run/last.ckpt").step, 52);
}

// A global batch that two ranks do not divide (101: 50 and 51), and a
// last batch of one image (506 = 5 x 101 + 1), where one rank trains on
// nothing: the run still equals one process up to rounding.
TEST_F(Distributed, UnevenShardsAndAnEmptyOne) {
  const std::string flags = "--data mnist --limit 506 --epochs 1 --batch 101";
  Outcome two = trainOneAndTwo(NETC_LENET5_SGD_SO, flags);
  ASSERT_FALSE(HasFailure());
  Checkpoint a = checkpoint("one/last.ckpt"), b = checkpoint("two/last.ckpt");
  EXPECT_EQ(b.step, 6);
  EXPECT_LT(largestRelativeDifference(a, b), 1e-6);
}

// A model whose batch norms train: their running statistics are averaged
// over the ranks at every step, so the ranks stay identical (the run would
// fail its hash check otherwise).
TEST_F(Distributed, TrainedBatchNormsStayIdentical) {
  Outcome two = run(train(NETC_SMALL_RESNET_TRAINED_SO, "two",
                          "--data mnist --limit 1280 --epochs 2 --batch 64", 2));
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_NE(two.output.find("Epoch 2/2"), std::string::npos) << two.output;
}

// resnet50_head.net (at 64x64, 1/8 width: the e2e model narrow_resnet50) on
// an exported digit folder: each rank computes the frozen base's features
// of its half of the images, all ranks train the head on all of them, and
// the run reaches what one process reaches. The head's dropout draws other
// masks on two ranks (each rank its own stream), so the figures agree only
// as two seeds do: within 0.05 after these 10 steps.
TEST_F(Distributed, FrozenBaseHeadOnAnImageFolder) {
  Outcome exported = run(std::string(NETRUN_BIN) + " export-images --data mnist --out " +
                         (dir / "digits").string() + " --per-class 20");
  ASSERT_EQ(exported.status, 0) << exported.output;
  const std::string flags = "--data " + (dir / "digits").string() +
                            " --validation-split 0.2 --epochs 2 --batch 32";
  Outcome two = trainOneAndTwo(NETC_NARROW_RESNET50_SO, flags);
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(two.output.find("frozen base: the features"), std::string::npos) << two.output;
  auto h1 = history("one"), h2 = history("two");
  ASSERT_EQ(h1.size(), 2u);
  ASSERT_EQ(h2.size(), 2u);
  EXPECT_NEAR(h1[1][1], h2[1][1], 0.05) << "loss";
  EXPECT_NEAR(h1[1][3], h2[1][3], 0.05) << "val_loss";
  std::printf("loss %.4f / %.4f, val_loss %.4f / %.4f (one process / two ranks)\n", h1[1][1],
              h2[1][1], h1[1][3], h2[1][3]);
}

// More ranks than images in a batch is refused, naming both.
TEST_F(Distributed, MoreRanksThanTheBatchIsRefused) {
  Outcome two = run(train(NETC_LENET5_SO, "two", "--data mnist --limit 100 --batch 1", 2));
  EXPECT_NE(two.status, 0);
  EXPECT_NE(two.output.find("a batch of 1 for 2 ranks"), std::string::npos) << two.output;
}

// Only train is data-parallel: another verb under mpirun would run whole on
// every rank, and is refused, saying so.
TEST_F(Distributed, OtherVerbsAreRefusedUnderMpirun) {
  Outcome info = run(std::string(NETC_MPIEXEC) + " -np 2 --oversubscribe " + NETRUN_BIN +
                     " info " + NETC_LENET5_SO);
  EXPECT_NE(info.status, 0);
  EXPECT_NE(info.output.find("netrun info under mpirun with 2 ranks: only train is "
                             "data-parallel"),
            std::string::npos)
      << info.output;
}

/// The process id of rank `rank` of a netrun writing into `out`.
pid_t rankPid(const fs::path &out, int rank) {
  for (const fs::directory_entry &entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    std::string command((std::istreambuf_iterator<char>(cmdline)), {});
    if (command.find("netrun") == std::string::npos ||
        command.find(out.string()) == std::string::npos ||
        command.find("mpirun") != std::string::npos ||
        command.find("mpiexec") != std::string::npos)
      continue;
    std::ifstream environ(entry.path() / "environ");
    std::string variables((std::istreambuf_iterator<char>(environ)), {});
    std::string wanted = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
    for (size_t at = variables.find(wanted); at != std::string::npos;
         at = variables.find(wanted, at + 1))
      if ((at == 0 || variables[at - 1] == '\0') &&
          (at + wanted.size() == variables.size() || variables[at + wanted.size()] == '\0'))
        return pid_t(std::stoi(name));
  }
  return 0;
}

/// Starts `command` in the background, with its output in `log`.
pid_t start(const std::string &command, const fs::path &log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string line = command + " > " + log.string() + " 2>&1";
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char *>(nullptr));
    ::_exit(127);
  }
  return pid;
}

/// Waits up to `seconds` for `pid`; its exit status, or -1 on a timeout.
int waitFor(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

std::string readText(const fs::path &path) {
  std::ifstream file(path);
  return std::string((std::istreambuf_iterator<char>(file)), {});
}

/// Starts a long two-rank run, waits for its first checkpoint, and does
/// `act` to rank 1; the run must end within `seconds` with an error and a
/// readable last.ckpt. Returns what the run printed.
std::string endsAfter(Distributed &test, const fs::path &dir, const std::string &command,
                      int signal, double seconds) {
  const fs::path log = dir / "log.txt";
  pid_t launcher = start(command, log);
  const fs::path last = dir / "run" / "last.ckpt";
  for (int i = 0; i < 600 && !fs::exists(last); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(fs::exists(last)) << readText(log);
  pid_t victim = rankPid(dir / "run", 1);
  EXPECT_NE(victim, 0) << "rank 1 not found";
  if (victim)
    ::kill(victim, signal);
  int status = waitFor(launcher, seconds);
  if (status == -1) {
    ::kill(launcher, SIGKILL);
    if (victim)
      ::kill(victim, SIGKILL);
    ADD_FAILURE() << "the run did not end within " << seconds << " s";
    waitFor(launcher, 10);
  } else {
    EXPECT_NE(status, 0) << readText(log);
  }
  Result<Checkpoint> kept = readCheckpoint(last.string());
  EXPECT_TRUE(kept) << kept.error;
  (void)test;
  return readText(log);
}

// A rank killed mid-run: mpirun ends the others at once; last.ckpt, written
// atomically by rank 0, stays whole.
TEST_F(Distributed, AKilledRankEndsTheRun) {
  std::string output =
      endsAfter(*this, dir,
                train(NETC_LENET5_SO, "run", "--data mnist --limit 1000 --epochs 1000 --batch 100", 2),
                SIGKILL, 60);
  EXPECT_NE(output.find("signal 9"), std::string::npos) << output;
}

// A rank that hangs (stopped): the others give up after --mpi-timeout and
// end the run, saying so.
TEST_F(Distributed, AHangingRankEndsTheRunAfterTheTimeout) {
  std::string output = endsAfter(
      *this, dir,
      train(NETC_LENET5_SO, "run",
            "--data mnist --limit 1000 --epochs 1000 --batch 100 --mpi-timeout 3", 2),
      SIGSTOP, 60);
  EXPECT_NE(output.find("got no answer from the other ranks within 3 s"), std::string::npos)
      << output;
}

} // namespace
