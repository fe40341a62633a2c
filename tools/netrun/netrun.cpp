//===- netrun.cpp - Train, evaluate and run a compiled model --------------===//
//
// The verbs, their options and their handlers live in the NetrunCli library
// beside this file (Netrun.h), so that tests can run them in-process.
//
//===----------------------------------------------------------------------===//

#include "Netrun.h"

#include <cstdio>
#include <iostream>
#include <unistd.h>

int main(int argc, char **argv) {
  // Every message on stderr leaves in one write per line: unbuffered, each
  // `<<` piece was its own write, and under mpirun a rank's stdout (its
  // progress bar) could be forwarded between the pieces of one line.
  std::setvbuf(stderr, nullptr, _IOLBF, BUFSIZ);
  std::cerr.unsetf(std::ios::unitbuf);
  std::vector<std::string> args(argv + 1, argv + argc);
  netc::runtime::DriverStreams streams{std::cout, std::cerr,
                                      /*interactive=*/::isatty(1) != 0};
  return netc::runtime::runNetrun(args, streams);
}
