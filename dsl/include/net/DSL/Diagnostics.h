//===- Diagnostics.h - Errors that point into a .net file -------*- C++ -*-===//
//
// Every front-end error goes through here: `file:line:col: error: message`,
// the source line and a caret, as clang prints them. Errors are counted, not
// thrown, so that one run reports every independent problem; after a limit
// the rest are dropped so a garbled file cannot flood the terminal.
//
//===----------------------------------------------------------------------===//
#ifndef NET_DSL_DIAGNOSTICS_H
#define NET_DSL_DIAGNOSTICS_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"

namespace netc::dsl {

class Diagnostics {
public:
  explicit Diagnostics(llvm::SourceMgr &sourceMgr) : sourceMgr(sourceMgr) {}

  /// Reports an error at `loc`; a no-op once the limit is reached.
  void error(llvm::SMLoc loc, const llvm::Twine &message);
  /// Adds a note to the last error (only if that error was printed).
  void note(llvm::SMLoc loc, const llvm::Twine &message);

  unsigned errorCount() const { return errors; }
  bool hadError() const { return errors != 0; }
  llvm::SourceMgr &getSourceMgr() { return sourceMgr; }

  /// Errors beyond this many are counted but not printed.
  static constexpr unsigned kMaxPrinted = 20;

private:
  llvm::SourceMgr &sourceMgr;
  unsigned errors = 0;
  bool lastPrinted = false;
};

/// The closest of `candidates` to `name` by edit distance, or "" when none is
/// close enough to be a likely typo.
std::string closestMatch(llvm::StringRef name,
                         llvm::ArrayRef<llvm::StringRef> candidates);

} // namespace netc::dsl

#endif // NET_DSL_DIAGNOSTICS_H
