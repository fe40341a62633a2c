//===- Netrun.h - The netrun command line -----------------------*- C++ -*-===//
//
// netrun's verbs live in one table (name, usage, one-line help, handler:
// Netrun.cpp, one file per verb) and its options in another (name, verbs it
// applies to, help: Options.cpp), parsed in one place; netrun.cpp only calls
// runNetrun. Tests run the command line in-process through the same function.
//
//===----------------------------------------------------------------------===//
#ifndef NETRUN_NETRUN_H
#define NETRUN_NETRUN_H

#include <ostream>
#include <string>
#include <vector>

namespace netc::runtime {

struct DriverStreams {
  std::ostream &out;
  std::ostream &err;
  /// stdout is a terminal: progress bars instead of periodic lines.
  bool interactive = false;
};

/// Runs `netrun <args...>`; returns the exit status (0 success, 1 failure,
/// 130 training stopped by SIGINT or SIGTERM after writing last.ckpt). Never
/// throws; exits only on a second SIGINT or SIGTERM during training (status
/// 130). Test hook: NETRUN_TEST_INTERRUPT_AFTER_STEPS=N raises SIGINT after
/// the Nth training step.
int runNetrun(const std::vector<std::string> &args, DriverStreams streams);

/// What runNetrunCaptured saw: the exit status and the two streams' text.
struct NetrunOutcome {
  int status = -1;
  std::string out, err;
};

/// runNetrun with its output captured, not interactive: how the tests (and
/// any program embedding netrun) run a command line in-process.
NetrunOutcome runNetrunCaptured(const std::vector<std::string> &args);

/// The candidate closest to `word` by edit distance, or "" when none is near.
std::string closestMatch(const std::string &word, const std::vector<std::string> &candidates);

} // namespace netc::runtime

#endif // NETRUN_NETRUN_H
