//===- CommandLineHelp.h - --help with a tool's own options -----*- C++ -*-===//
//
// netc and net-opt link LLVM and MLIR, which register a few hundred options
// of their own (AArch64, AMDGPU, PGO, ...). `--help` shows the tool's
// options; `--help-hidden` still lists every option, and all keep working.
//
//===----------------------------------------------------------------------===//

#ifndef NETC_TOOLS_COMMANDLINEHELP_H
#define NETC_TOOLS_COMMANDLINEHELP_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"

namespace netc::tools {

/// Marks cl::Hidden every registered option that is in none of `categories`
/// and has none of `names`, except --help and --version. Not cl::ReallyHidden
/// (what llvm::cl::HideUnrelatedOptions sets): --help-hidden keeps them.
inline void hideForeignOptions(llvm::ArrayRef<const llvm::cl::OptionCategory *> categories,
                               llvm::ArrayRef<llvm::StringRef> names = {}) {
  llvm::StringMap<llvm::cl::Option *> &options = llvm::cl::getRegisteredOptions();
  llvm::SmallPtrSet<llvm::cl::Option *, 16> kept;
  for (llvm::StringRef name : names)
    if (auto it = options.find(name); it != options.end())
      kept.insert(it->second);
  for (auto &[name, option] : options) {
    bool own = kept.contains(option) ||
               llvm::any_of(option->Categories, [&](const llvm::cl::OptionCategory *c) {
                 return llvm::is_contained(categories, c);
               });
    bool generic = name == "help" || name == "version";
    if (!own && !generic && option->getOptionHiddenFlag() == llvm::cl::NotHidden)
      option->setHiddenFlag(llvm::cl::Hidden);
  }
}

} // namespace netc::tools

#endif // NETC_TOOLS_COMMANDLINEHELP_H
