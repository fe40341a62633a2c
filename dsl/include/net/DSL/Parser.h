//===- Parser.h - Recursive-descent parser of .net files --------*- C++ -*-===//
//
// Builds the AST of docs/language.md. On an error it reports, skips to the
// next statement (a token that starts a line at the same brace depth) and
// goes on, so one run lists every syntax error. Nesting is bounded, so no
// input can exhaust the stack.
//
//===----------------------------------------------------------------------===//
#ifndef NET_DSL_PARSER_H
#define NET_DSL_PARSER_H

#include "net/DSL/AST.h"
#include "net/DSL/Diagnostics.h"
#include "net/DSL/Lexer.h"

namespace netc::dsl {

class Parser {
public:
  Parser(llvm::StringRef buffer, Diagnostics &diags)
      : lexer(buffer), diags(diags) {
    advance();
  }

  /// Parses the whole buffer. Check `diags.hadError()` before using it.
  Module parseModule();

  /// Deepest nesting of brackets, blocks and expressions accepted.
  static constexpr int kMaxDepth = 128;
  /// Tallest expression tree accepted (a chain of N layers is N tall).
  static constexpr int kMaxHeight = 500;

private:
  std::unique_ptr<Decl> parseDecl();
  std::unique_ptr<Decl> parseConst();
  std::unique_ptr<Decl> parseCallable(Decl::Kind kind);
  bool parseParams(std::vector<Param> &params);
  bool parseBody(StmtList &body);
  StmtPtr parseStmt();
  StmtPtr parseTrain();
  ExprPtr parseExpr();
  ExprPtr parseLeftAssociative(llvm::ArrayRef<TokenKind> ops,
                               ExprPtr (Parser::*operand)());
  ExprPtr parseSum();
  ExprPtr parseTerm();
  ExprPtr parseUnary();
  ExprPtr parsePrimary();
  ExprPtr parseList();
  bool parseArgs(std::vector<Arg> &args);
  bool checkHeight(Expr &expr);

  void advance();
  bool consume(TokenKind kind);
  bool expect(TokenKind kind, llvm::StringRef context);
  void errorHere(const llvm::Twine &message);
  void recover(llvm::SMLoc start);

  Lexer lexer;
  Diagnostics &diags;
  Token tok;
  bool tokAtLineStart = true;
  int braceDepth = 0;
  int nesting = 0;
};

} // namespace netc::dsl

#endif // NET_DSL_PARSER_H
