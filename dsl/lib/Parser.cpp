//===- Parser.cpp - Recursive-descent parser of .net files ----------------===//

#include "net/DSL/Parser.h"

#include "llvm/ADT/STLExtras.h"

using namespace netc::dsl;

namespace {
/// Counts nesting on entry, restores it on exit.
struct DepthGuard {
  int &depth;
  explicit DepthGuard(int &depth) : depth(depth) { ++depth; }
  ~DepthGuard() { --depth; }
};
} // namespace

void Parser::advance() {
  tok = lexer.next();
  tokAtLineStart = lexer.lastWasLineStart();
  if (tok.is(TokenKind::l_brace))
    ++braceDepth;
  else if (tok.is(TokenKind::r_brace))
    --braceDepth;
}

bool Parser::consume(TokenKind kind) {
  if (!tok.is(kind))
    return false;
  advance();
  return true;
}

void Parser::errorHere(const llvm::Twine &message) {
  if (tok.is(TokenKind::error)) {
    diags.error(tok.loc(), tok.message);
    return;
  }
  diags.error(tok.loc(), message);
}

bool Parser::expect(TokenKind kind, llvm::StringRef context) {
  if (consume(kind))
    return true;
  std::string got = tok.is(TokenKind::eof) ? "end of file" : "'" + tok.text.str() + "'";
  errorHere("expected " + spell(kind) + " " + context + ", got " + got);
  return false;
}

/// Skips to a token that starts a line at (or outside) the brace depth where
/// the error happened, or just past the '}' that closes it.
void Parser::recover(llvm::SMLoc start) {
  int depth = braceDepth;
  while (!tok.is(TokenKind::eof)) {
    // Never stop where the failed construct began: recovery must progress.
    if (tokAtLineStart && braceDepth <= depth && tok.loc() != start &&
        !tok.is(TokenKind::r_brace))
      return;
    if (tok.is(TokenKind::r_brace) && braceDepth < depth)
      return; // the enclosing body's closing brace: let it be consumed there
    advance();
  }
}

/// module ::= decl*
Module Parser::parseModule() {
  Module module;
  while (!tok.is(TokenKind::eof)) {
    llvm::SMLoc start = tok.loc();
    if (auto decl = parseDecl()) {
      module.decls.push_back(std::move(decl));
      continue;
    }
    recover(start);
    // A stray '}' at top level would otherwise stop recovery forever.
    if (tok.is(TokenKind::r_brace) && braceDepth < 0) {
      braceDepth = 0;
      advance();
    }
  }
  return module;
}

/// decl ::= const | block | network
std::unique_ptr<Decl> Parser::parseDecl() {
  switch (tok.kind) {
  case TokenKind::kw_const:
    return parseConst();
  case TokenKind::kw_block:
    return parseCallable(Decl::Kind::Block);
  case TokenKind::kw_network:
    return parseCallable(Decl::Kind::Network);
  default:
    errorHere("expected 'network', 'block' or 'const' at top level, got '" +
              tok.text + "'");
    return nullptr;
  }
}

/// const ::= 'const' IDENT '=' expr
std::unique_ptr<Decl> Parser::parseConst() {
  auto decl = std::make_unique<Decl>(Decl::Kind::Const, tok.loc());
  advance();
  if (!tok.is(TokenKind::identifier)) {
    errorHere("expected a name after 'const'");
    return nullptr;
  }
  decl->name = tok.text.str();
  advance();
  if (!expect(TokenKind::equal, "after the constant's name"))
    return nullptr;
  decl->value = parseExpr();
  return decl->value ? std::move(decl) : nullptr;
}

/// block   ::= 'block' IDENT '(' params ')' body
/// network ::= 'network' IDENT ('(' params ')')? body
std::unique_ptr<Decl> Parser::parseCallable(Decl::Kind kind) {
  auto decl = std::make_unique<Decl>(kind, tok.loc());
  llvm::StringRef what = kind == Decl::Kind::Block ? "block" : "network";
  advance();
  if (!tok.is(TokenKind::identifier)) {
    errorHere("expected a name after '" + what + "'");
    return nullptr;
  }
  decl->name = tok.text.str();
  advance();
  if (tok.is(TokenKind::l_paren) || kind == Decl::Kind::Block) {
    if (!expect(TokenKind::l_paren, "to open the parameter list") ||
        !parseParams(decl->params))
      return nullptr;
  }
  if (!parseBody(decl->body))
    return nullptr;
  return decl;
}

/// params ::= (param (',' param)*)? ')'     param ::= IDENT ('=' expr)?
bool Parser::parseParams(std::vector<Param> &params) {
  if (consume(TokenKind::r_paren))
    return true;
  do {
    if (!tok.is(TokenKind::identifier)) {
      errorHere("expected a parameter name, got '" + tok.text + "'");
      return false;
    }
    Param param;
    param.name = tok.text.str();
    param.loc = tok.loc();
    advance();
    if (consume(TokenKind::equal)) {
      param.defaultValue = parseExpr();
      if (!param.defaultValue)
        return false;
    }
    params.push_back(std::move(param));
  } while (consume(TokenKind::comma));
  return expect(TokenKind::r_paren, "to close the parameter list");
}

/// body ::= '{' stmt* '}'
bool Parser::parseBody(StmtList &body) {
  DepthGuard guard(nesting);
  if (nesting > kMaxDepth) {
    errorHere("nesting deeper than " + llvm::Twine(kMaxDepth) + " levels");
    return false;
  }
  // The '{' already counts in braceDepth once it is the current token.
  int depth = tok.is(TokenKind::l_brace) ? braceDepth - 1 : braceDepth;
  llvm::SMLoc open = tok.loc();
  if (!expect(TokenKind::l_brace, "to open a body"))
    return false;
  while (!tok.is(TokenKind::r_brace) || braceDepth != depth) {
    if (tok.is(TokenKind::eof)) {
      diags.error(tok.loc(), "expected '}' before end of file");
      diags.note(open, "the body opened here");
      return false;
    }
    llvm::SMLoc start = tok.loc();
    if (auto stmt = parseStmt()) {
      body.push_back(std::move(stmt));
      continue;
    }
    recover(start);
  }
  advance(); // '}'
  return true;
}

/// stmt ::= 'input' IDENT list ('(' args ')')? | 'output' expr | 'return' expr
///        | IDENT '=' expr | 'repeat' expr body | 'frozen' body | train
StmtPtr Parser::parseStmt() {
  llvm::SMLoc loc = tok.loc();
  switch (tok.kind) {
  case TokenKind::kw_input: {
    auto stmt = std::make_unique<Stmt>(Stmt::Kind::Input, loc);
    advance();
    if (!tok.is(TokenKind::identifier)) {
      errorHere("expected the input's name after 'input'");
      return nullptr;
    }
    stmt->name = tok.text.str();
    advance();
    if (!tok.is(TokenKind::l_square)) {
      errorHere("expected the input's shape as [channels, height, width] after '" +
                stmt->name + "'");
      return nullptr;
    }
    stmt->value = parseList();
    if (!stmt->value)
      return nullptr;
    // The input's normalisation, kept as a call of 'input' so that its
    // arguments are bound and checked like any call's.
    if (tok.is(TokenKind::l_paren)) {
      stmt->options = std::make_unique<Expr>(Expr::Kind::Call, tok.loc());
      stmt->options->text = "input";
      advance();
      if (!parseArgs(stmt->options->args) || !checkHeight(*stmt->options))
        return nullptr;
    }
    return stmt;
  }
  case TokenKind::kw_output:
  case TokenKind::kw_return: {
    auto stmt = std::make_unique<Stmt>(
        tok.is(TokenKind::kw_output) ? Stmt::Kind::Output : Stmt::Kind::Return, loc);
    advance();
    stmt->value = parseExpr();
    return stmt->value ? std::move(stmt) : nullptr;
  }
  case TokenKind::kw_repeat: {
    auto stmt = std::make_unique<Stmt>(Stmt::Kind::Repeat, loc);
    advance();
    stmt->value = parseExpr();
    if (!stmt->value || !parseBody(stmt->body))
      return nullptr;
    return stmt;
  }
  case TokenKind::kw_frozen: {
    auto stmt = std::make_unique<Stmt>(Stmt::Kind::Frozen, loc);
    advance();
    if (!parseBody(stmt->body))
      return nullptr;
    return stmt;
  }
  case TokenKind::kw_train:
    return parseTrain();
  case TokenKind::identifier: {
    auto stmt = std::make_unique<Stmt>(Stmt::Kind::Assign, loc);
    stmt->name = tok.text.str();
    advance();
    if (!expect(TokenKind::equal,
                ("after '" + stmt->name + "' (a statement is 'name = expression')").c_str()))
      return nullptr;
    stmt->value = parseExpr();
    return stmt->value ? std::move(stmt) : nullptr;
  }
  default:
    errorHere("expected a statement (input, output, return, repeat, frozen, "
              "train or 'name = expression'), got '" + tok.text + "'");
    return nullptr;
  }
}

/// train ::= 'train' '{' (IDENT '=' expr)* '}'
StmtPtr Parser::parseTrain() {
  auto stmt = std::make_unique<Stmt>(Stmt::Kind::Train, tok.loc());
  advance();
  int depth = tok.is(TokenKind::l_brace) ? braceDepth - 1 : braceDepth;
  if (!expect(TokenKind::l_brace, "to open the training set-up"))
    return nullptr;
  while (!tok.is(TokenKind::r_brace) || braceDepth != depth) {
    if (tok.is(TokenKind::eof)) {
      errorHere("expected '}' to close the training set-up");
      return nullptr;
    }
    llvm::SMLoc start = tok.loc();
    if (!tok.is(TokenKind::identifier)) {
      errorHere("expected a setting such as 'optimizer = adam(lr = 0.001)', got '" +
                tok.text + "'");
      recover(start);
      continue;
    }
    auto setting = std::make_unique<Stmt>(Stmt::Kind::Assign, tok.loc());
    setting->name = tok.text.str();
    advance();
    if (!expect(TokenKind::equal, "after the setting's name") ||
        !(setting->value = parseExpr())) {
      recover(start);
      continue;
    }
    stmt->body.push_back(std::move(setting));
  }
  advance();
  return stmt;
}

/// Records `expr`'s height from its children; false (with an error) when it
/// exceeds the limit.
bool Parser::checkHeight(Expr &expr) {
  int height = 0;
  for (const auto &operand : expr.operands)
    height = std::max(height, operand->height);
  for (const Arg &arg : expr.args)
    height = std::max(height, arg.value->height);
  expr.height = height + 1;
  if (expr.height <= kMaxHeight)
    return true;
  diags.error(expr.loc, "expression longer than " + llvm::Twine(kMaxHeight) +
                            " steps; split it with names or use 'repeat'");
  return false;
}

/// expr ::= sum ('->' IDENT ('(' args ')')?)*
ExprPtr Parser::parseExpr() {
  DepthGuard guard(nesting);
  if (nesting > kMaxDepth) {
    errorHere("expression nested deeper than " + llvm::Twine(kMaxDepth) + " levels");
    return nullptr;
  }
  ExprPtr lhs = parseSum();
  while (lhs && tok.is(TokenKind::arrow)) {
    advance();
    if (!tok.is(TokenKind::identifier)) {
      errorHere("expected a layer or block name after '->', got '" + tok.text + "'");
      return nullptr;
    }
    auto call = std::make_unique<Expr>(Expr::Kind::Call, tok.loc());
    call->text = tok.text.str();
    call->chained = true;
    advance();
    Arg input;
    input.loc = lhs->loc;
    input.value = std::move(lhs);
    call->args.push_back(std::move(input));
    if (consume(TokenKind::l_paren) && !parseArgs(call->args))
      return nullptr;
    if (!checkHeight(*call))
      return nullptr;
    lhs = std::move(call);
  }
  return lhs;
}

/// Parses `operand (op operand)*`, left-associative, for the operators `ops`.
ExprPtr Parser::parseLeftAssociative(llvm::ArrayRef<TokenKind> ops,
                                     ExprPtr (Parser::*operand)()) {
  ExprPtr lhs = (this->*operand)();
  while (lhs && llvm::is_contained(ops, tok.kind)) {
    auto bin = std::make_unique<Expr>(Expr::Kind::Binary, tok.loc());
    bin->text = tok.text.str();
    advance();
    ExprPtr rhs = (this->*operand)();
    if (!rhs)
      return nullptr;
    bin->operands.push_back(std::move(lhs));
    bin->operands.push_back(std::move(rhs));
    if (!checkHeight(*bin))
      return nullptr;
    lhs = std::move(bin);
  }
  return lhs;
}

/// sum ::= term (('+' | '-') term)*
ExprPtr Parser::parseSum() {
  return parseLeftAssociative({TokenKind::plus, TokenKind::minus}, &Parser::parseTerm);
}

/// term ::= unary (('*' | '/' | '%') unary)*
ExprPtr Parser::parseTerm() {
  return parseLeftAssociative({TokenKind::star, TokenKind::slash, TokenKind::percent},
                              &Parser::parseUnary);
}

/// unary ::= '-' unary | primary
ExprPtr Parser::parseUnary() {
  if (!tok.is(TokenKind::minus))
    return parsePrimary();
  DepthGuard guard(nesting);
  if (nesting > kMaxDepth) {
    errorHere("expression nested deeper than " + llvm::Twine(kMaxDepth) + " levels");
    return nullptr;
  }
  auto neg = std::make_unique<Expr>(Expr::Kind::Negate, tok.loc());
  advance();
  ExprPtr operand = parseUnary();
  if (!operand)
    return nullptr;
  neg->operands.push_back(std::move(operand));
  return checkHeight(*neg) ? std::move(neg) : nullptr;
}

/// primary ::= INTEGER | NUMBER | STRING | 'true' | 'false' | list
///           | IDENT ('(' args ')')? | '(' expr ')'
ExprPtr Parser::parsePrimary() {
  llvm::SMLoc loc = tok.loc();
  switch (tok.kind) {
  case TokenKind::integer: {
    auto e = std::make_unique<Expr>(Expr::Kind::Integer, loc);
    e->intValue = tok.intValue;
    advance();
    return e;
  }
  case TokenKind::floating: {
    auto e = std::make_unique<Expr>(Expr::Kind::Float, loc);
    e->floatValue = tok.floatValue;
    advance();
    return e;
  }
  case TokenKind::string: {
    auto e = std::make_unique<Expr>(Expr::Kind::String, loc);
    e->text = tok.text.drop_front().drop_back().str();
    advance();
    return e;
  }
  case TokenKind::kw_true:
  case TokenKind::kw_false: {
    auto e = std::make_unique<Expr>(Expr::Kind::Bool, loc);
    e->intValue = tok.is(TokenKind::kw_true);
    advance();
    return e;
  }
  case TokenKind::l_square:
    return parseList();
  case TokenKind::l_paren: {
    advance();
    ExprPtr inner = parseExpr();
    if (!inner || !expect(TokenKind::r_paren, "to close the parenthesis"))
      return nullptr;
    return inner;
  }
  case TokenKind::identifier: {
    std::string name = tok.text.str();
    advance();
    if (!tok.is(TokenKind::l_paren)) {
      auto e = std::make_unique<Expr>(Expr::Kind::Name, loc);
      e->text = name;
      return e;
    }
    advance();
    auto call = std::make_unique<Expr>(Expr::Kind::Call, loc);
    call->text = name;
    if (!parseArgs(call->args) || !checkHeight(*call))
      return nullptr;
    return call;
  }
  default: {
    std::string got = tok.is(TokenKind::eof) ? "end of file" : "'" + tok.text.str() + "'";
    errorHere("expected an expression, got " + got);
    return nullptr;
  }
  }
}

/// list ::= '[' (expr (',' expr)*)? ']'
ExprPtr Parser::parseList() {
  DepthGuard guard(nesting);
  if (nesting > kMaxDepth) {
    errorHere("list nested deeper than " + llvm::Twine(kMaxDepth) + " levels");
    return nullptr;
  }
  auto list = std::make_unique<Expr>(Expr::Kind::List, tok.loc());
  advance(); // '['
  if (consume(TokenKind::r_square))
    return list;
  do {
    ExprPtr item = parseExpr();
    if (!item)
      return nullptr;
    list->operands.push_back(std::move(item));
  } while (consume(TokenKind::comma));
  if (!expect(TokenKind::r_square, "to close the list") || !checkHeight(*list))
    return nullptr;
  return list;
}

/// args ::= (arg (',' arg)*)? ')'     arg ::= (IDENT '=')? expr
bool Parser::parseArgs(std::vector<Arg> &args) {
  if (consume(TokenKind::r_paren))
    return true;
  do {
    Arg arg;
    arg.loc = tok.loc();
    // `frozen` is a keyword for regions and an argument name for one layer.
    if (tok.is(TokenKind::identifier) || tok.is(TokenKind::kw_frozen)) {
      // Look ahead one token: `name =` is a keyword argument.
      Lexer save = lexer;
      Token saveTok = tok;
      bool saveStart = tokAtLineStart;
      int saveDepth = braceDepth;
      std::string name = tok.text.str();
      advance();
      if (tok.is(TokenKind::equal)) {
        advance();
        arg.name = name;
      } else {
        lexer = save;
        tok = saveTok;
        tokAtLineStart = saveStart;
        braceDepth = saveDepth;
      }
    }
    arg.value = parseExpr();
    if (!arg.value)
      return false;
    args.push_back(std::move(arg));
  } while (consume(TokenKind::comma));
  return expect(TokenKind::r_paren, "to close the argument list");
}
