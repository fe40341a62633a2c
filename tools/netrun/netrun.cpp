//===- netrun.cpp - Train, evaluate and run a compiled model --------------===//
//
// The verbs, their options and their handlers live in the NetrunCli library
// beside this file (Netrun.h), so that tests can run them in-process.
//
//===----------------------------------------------------------------------===//

#include "Netrun.h"

#include <iostream>
#include <unistd.h>

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  netc::runtime::DriverStreams streams{std::cout, std::cerr,
                                      /*interactive=*/::isatty(1) != 0};
  return netc::runtime::runNetrun(args, streams);
}
