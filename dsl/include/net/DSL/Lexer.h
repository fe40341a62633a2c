//===- Lexer.h - Tokens of the .net language --------------------*- C++ -*-===//
//
// The lexer turns a .net buffer into tokens. It never fails hard: a bad
// character or an out-of-range number becomes an `error` token whose message the
// parser reports at that spot, so one run can report several problems.
//
//===----------------------------------------------------------------------===//
#ifndef NET_DSL_LEXER_H
#define NET_DSL_LEXER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <string>

namespace netc::dsl {

enum class TokenKind {
  eof,
  error,
  identifier,
  integer,
  floating,
  string,
  // Keywords.
  kw_block,
  kw_const,
  kw_false,
  kw_frozen,
  kw_input,
  kw_network,
  kw_output,
  kw_repeat,
  kw_return,
  kw_train,
  kw_true,
  // Punctuation.
  l_paren,
  r_paren,
  l_square,
  r_square,
  l_brace,
  r_brace,
  comma,
  equal,
  arrow,
  plus,
  minus,
  star,
  slash,
  percent,
};

/// A token: its kind, its text in the buffer, and for numbers their value.
struct Token {
  TokenKind kind = TokenKind::eof;
  llvm::StringRef text;
  int64_t intValue = 0;
  double floatValue = 0;
  /// For `error` tokens: what was wrong.
  std::string message;

  bool is(TokenKind k) const { return kind == k; }
  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
};

/// Spells a token kind for diagnostics ("'->'", "identifier").
llvm::StringRef spell(TokenKind kind);

class Lexer {
public:
  explicit Lexer(llvm::StringRef buffer) : buffer(buffer), cur(buffer.begin()) {}

  /// Returns the next token; `eof` forever at the end.
  Token next();

  /// True when the last token returned was the first on its line. The parser
  /// resynchronises after an error at such tokens.
  bool lastWasLineStart() const { return lineStart; }

private:
  Token make(TokenKind kind, const char *start);
  Token lexNumber(const char *start);
  Token lexIdentifier(const char *start);
  Token lexString(const char *start);
  void skipSpaceAndComments();

  llvm::StringRef buffer;
  const char *cur;
  bool lineStart = true;
};

} // namespace netc::dsl

#endif // NET_DSL_LEXER_H
