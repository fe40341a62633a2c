//===- AST.h - Syntax tree of the .net language -----------------*- C++ -*-===//
//
// The tree the parser builds and elaboration walks. Every node keeps the
// location of its first token so that any later error can point at the source.
// `dump` prints it with line:col for `netc -emit=ast` and the lit tests.
//
//===----------------------------------------------------------------------===//
#ifndef NET_DSL_AST_H
#define NET_DSL_AST_H

#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace netc::dsl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

/// An argument of a call: positional when `name` is empty.
struct Arg {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr value;
};

struct Expr {
  enum class Kind { Integer, Float, Bool, String, Name, List, Negate, Binary, Call };
  Kind kind;
  llvm::SMLoc loc;
  int64_t intValue = 0;     // Integer, Bool (0/1)
  double floatValue = 0;    // Float
  std::string text;         // String, Name, Call callee, Binary operator
  std::vector<ExprPtr> operands; // List items, Negate/Binary operands
  std::vector<Arg> args;    // Call arguments, a chained input first
  bool chained = false;     // Call written as `input -> callee(...)`
  /// Height of the subtree; bounded by the parser so that walking it
  /// recursively cannot exhaust the stack.
  int height = 1;

  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind { Input, Output, Return, Assign, Repeat, Frozen, Train };
  Kind kind;
  llvm::SMLoc loc;
  std::string name;     // Input, Assign
  ExprPtr value;        // Input shape list, Output/Return/Assign value, Repeat count
  ExprPtr options;      // Input: `(mean = ..., std = ...)` as a call of 'input', or null
  StmtList body;        // Repeat, Frozen, Train (Assign settings)

  Stmt(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
};

/// A parameter of a block or network, with an optional default.
struct Param {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr defaultValue;
};

struct Decl {
  enum class Kind { Const, Block, Network };
  Kind kind;
  llvm::SMLoc loc;
  std::string name;
  ExprPtr value;            // Const
  std::vector<Param> params; // Block, Network
  StmtList body;            // Block, Network

  Decl(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
};

struct Module {
  std::vector<std::unique_ptr<Decl>> decls;
};

/// Prints the tree, one node a line, with `line:col` of each node.
void dump(const Module &module, const llvm::SourceMgr &sourceMgr,
          llvm::raw_ostream &os);

} // namespace netc::dsl

#endif // NET_DSL_AST_H
