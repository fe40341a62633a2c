//===- ASTDump.cpp - Printing the syntax tree for `netc -emit=ast` --------===//

#include "net/DSL/AST.h"

#include "llvm/Support/Format.h"

using namespace netc::dsl;

namespace {

class Dumper {
public:
  Dumper(const llvm::SourceMgr &sourceMgr, llvm::raw_ostream &os)
      : sourceMgr(sourceMgr), os(os) {}

  void dump(const Module &module) {
    for (const auto &decl : module.decls)
      dump(*decl);
  }

private:
  void line(llvm::SMLoc loc) {
    os.indent(depth * 2);
    pending = loc;
  }
  void end() {
    auto [lineNo, col] = sourceMgr.getLineAndColumn(pending);
    os << " @" << lineNo << ':' << col << '\n';
  }

  struct Indent {
    Dumper &d;
    explicit Indent(Dumper &d) : d(d) { ++d.depth; }
    ~Indent() { --d.depth; }
  };

  void dump(const Decl &decl) {
    line(decl.loc);
    switch (decl.kind) {
    case Decl::Kind::Const:
      os << "Const " << decl.name;
      end();
      {
        Indent in(*this);
        dump(*decl.value);
      }
      return;
    case Decl::Kind::Block:
      os << "Block " << decl.name;
      break;
    case Decl::Kind::Network:
      os << "Network " << decl.name;
      break;
    }
    end();
    Indent in(*this);
    for (const Param &param : decl.params) {
      line(param.loc);
      os << "Param " << param.name;
      end();
      if (param.defaultValue) {
        Indent in2(*this);
        dump(*param.defaultValue);
      }
    }
    dump(decl.body);
  }

  void dump(const StmtList &body) {
    for (const auto &stmt : body)
      dump(*stmt);
  }

  void dump(const Stmt &stmt) {
    line(stmt.loc);
    switch (stmt.kind) {
    case Stmt::Kind::Input: os << "Input " << stmt.name; break;
    case Stmt::Kind::Output: os << "Output"; break;
    case Stmt::Kind::Return: os << "Return"; break;
    case Stmt::Kind::Assign: os << "Assign " << stmt.name; break;
    case Stmt::Kind::Repeat: os << "Repeat"; break;
    case Stmt::Kind::Frozen: os << "Frozen"; break;
    case Stmt::Kind::Train: os << "Train"; break;
    }
    end();
    Indent in(*this);
    if (stmt.value)
      dump(*stmt.value);
    if (stmt.options)
      dump(*stmt.options);
    dump(stmt.body);
  }

  void dump(const Expr &expr) {
    line(expr.loc);
    switch (expr.kind) {
    case Expr::Kind::Integer: os << "Integer " << expr.intValue; break;
    case Expr::Kind::Float: os << "Float " << llvm::format("%g", expr.floatValue); break;
    case Expr::Kind::Bool: os << "Bool " << (expr.intValue ? "true" : "false"); break;
    case Expr::Kind::String: os << "String \"" << expr.text << '"'; break;
    case Expr::Kind::Name: os << "Name " << expr.text; break;
    case Expr::Kind::List: os << "List"; break;
    case Expr::Kind::Negate: os << "Negate"; break;
    case Expr::Kind::Binary: os << "Binary " << expr.text; break;
    case Expr::Kind::Call:
      os << "Call " << expr.text << (expr.chained ? " (chained)" : "");
      break;
    }
    end();
    Indent in(*this);
    for (const auto &operand : expr.operands)
      dump(*operand);
    for (const Arg &arg : expr.args) {
      if (arg.name.empty()) {
        dump(*arg.value);
        continue;
      }
      line(arg.loc);
      os << "Arg " << arg.name;
      end();
      Indent in2(*this);
      dump(*arg.value);
    }
  }

  const llvm::SourceMgr &sourceMgr;
  llvm::raw_ostream &os;
  int depth = 0;
  llvm::SMLoc pending;
};

} // namespace

void netc::dsl::dump(const Module &module, const llvm::SourceMgr &sourceMgr,
                    llvm::raw_ostream &os) {
  Dumper(sourceMgr, os).dump(module);
}
