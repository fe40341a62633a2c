//===- Diagnostics.cpp - Errors that point into a .net file ---------------===//

#include "net/DSL/Diagnostics.h"

#include "llvm/Support/WithColor.h"

using namespace netc::dsl;

void Diagnostics::error(llvm::SMLoc loc, const llvm::Twine &message) {
  ++errors;
  lastPrinted = errors <= kMaxPrinted;
  if (lastPrinted) {
    sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Error, message);
    return;
  }
  if (errors == kMaxPrinted + 1)
    llvm::WithColor::error() << "too many errors; stopping the report here\n";
}

void Diagnostics::note(llvm::SMLoc loc, const llvm::Twine &message) {
  if (lastPrinted)
    sourceMgr.PrintMessage(loc, llvm::SourceMgr::DK_Note, message);
}

std::string netc::dsl::closestMatch(llvm::StringRef name,
                                   llvm::ArrayRef<llvm::StringRef> candidates) {
  std::string best;
  unsigned bestDistance = ~0u;
  // A third of the name, rounded up: 'imgae' (two edits) still finds 'image'.
  unsigned limit = std::max<unsigned>(1, (name.size() + 2) / 3);
  for (llvm::StringRef candidate : candidates) {
    unsigned distance = name.edit_distance(candidate, /*AllowReplacements=*/true,
                                           /*MaxEditDistance=*/limit + 1);
    if (distance <= limit && distance < bestDistance) {
      bestDistance = distance;
      best = candidate.str();
    }
  }
  return best;
}
