//===- Report.h - How netc says what went wrong ------------------*- C++ -*-===//
//
// One line per error, "netc: error: ...", exit status 1 for a mistake in the
// user's input and 2 for netc's own.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_DRIVER_REPORT_H
#define NETC_DRIVER_REPORT_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace netc::driver {

inline int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "netc") << message << "\n";
  return 1;
}

/// Prints an importer's error, one line of it per message.
inline int failLines(llvm::Error error) {
  llvm::handleAllErrors(std::move(error), [](const llvm::ErrorInfoBase &e) {
    std::string text = e.message();
    llvm::SmallVector<llvm::StringRef> lines;
    llvm::StringRef(text).split(lines, '\n');
    for (llvm::StringRef line : lines)
      fail(line);
  });
  return 1;
}

/// A failure of netc itself: said as such, exit status 2.
inline int internalError(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "netc")
      << "internal error: " << message << "\n(this is a bug in netc, not in your model; "
      << "please report it with the command above)\n";
  return 2;
}

} // namespace netc::driver

#endif // NETC_DRIVER_REPORT_H
