//===- Lexer.cpp - Tokens of the .net language ----------------------------===//

#include "net/DSL/Lexer.h"

#include "llvm/ADT/StringSwitch.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace netc::dsl;

llvm::StringRef netc::dsl::spell(TokenKind kind) {
  switch (kind) {
  case TokenKind::eof: return "end of file";
  case TokenKind::error: return "invalid token";
  case TokenKind::identifier: return "identifier";
  case TokenKind::integer: return "integer";
  case TokenKind::floating: return "number";
  case TokenKind::string: return "string";
  case TokenKind::kw_block: return "'block'";
  case TokenKind::kw_const: return "'const'";
  case TokenKind::kw_false: return "'false'";
  case TokenKind::kw_frozen: return "'frozen'";
  case TokenKind::kw_input: return "'input'";
  case TokenKind::kw_network: return "'network'";
  case TokenKind::kw_output: return "'output'";
  case TokenKind::kw_repeat: return "'repeat'";
  case TokenKind::kw_return: return "'return'";
  case TokenKind::kw_train: return "'train'";
  case TokenKind::kw_true: return "'true'";
  case TokenKind::l_paren: return "'('";
  case TokenKind::r_paren: return "')'";
  case TokenKind::l_square: return "'['";
  case TokenKind::r_square: return "']'";
  case TokenKind::l_brace: return "'{'";
  case TokenKind::r_brace: return "'}'";
  case TokenKind::comma: return "','";
  case TokenKind::equal: return "'='";
  case TokenKind::arrow: return "'->'";
  case TokenKind::plus: return "'+'";
  case TokenKind::minus: return "'-'";
  case TokenKind::star: return "'*'";
  case TokenKind::slash: return "'/'";
  case TokenKind::percent: return "'%'";
  }
  return "token";
}

void Lexer::skipSpaceAndComments() {
  const char *end = buffer.end();
  while (cur < end) {
    char c = *cur;
    if (c == '\n') {
      lineStart = true;
      ++cur;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++cur;
    } else if (c == '#') {
      while (cur < end && *cur != '\n')
        ++cur;
    } else {
      return;
    }
  }
}

Token Lexer::make(TokenKind kind, const char *start) {
  Token tok;
  tok.kind = kind;
  tok.text = llvm::StringRef(start, cur - start);
  return tok;
}

Token Lexer::next() {
  lineStart = false;
  skipSpaceAndComments();
  const char *start = cur;
  if (cur >= buffer.end())
    return make(TokenKind::eof, start);

  char c = *cur++;
  if (std::isalpha(static_cast<unsigned char>(c)) || c == '_')
    return lexIdentifier(start);
  if (std::isdigit(static_cast<unsigned char>(c)) ||
      (c == '.' && cur < buffer.end() &&
       std::isdigit(static_cast<unsigned char>(*cur))))
    return lexNumber(start);

  switch (c) {
  case '(': return make(TokenKind::l_paren, start);
  case ')': return make(TokenKind::r_paren, start);
  case '[': return make(TokenKind::l_square, start);
  case ']': return make(TokenKind::r_square, start);
  case '{': return make(TokenKind::l_brace, start);
  case '}': return make(TokenKind::r_brace, start);
  case ',': return make(TokenKind::comma, start);
  case '=': return make(TokenKind::equal, start);
  case '+': return make(TokenKind::plus, start);
  case '*': return make(TokenKind::star, start);
  case '/': return make(TokenKind::slash, start);
  case '%': return make(TokenKind::percent, start);
  case '"': return lexString(start);
  case '-':
    if (cur < buffer.end() && *cur == '>') {
      ++cur;
      return make(TokenKind::arrow, start);
    }
    return make(TokenKind::minus, start);
  default:
    break;
  }
  Token tok = make(TokenKind::error, start);
  if (std::isprint(static_cast<unsigned char>(c)))
    tok.message = std::string("unexpected character '") + c + "'";
  else
    tok.message = "unexpected byte " + std::to_string(static_cast<unsigned char>(c)) +
                  " (.net files are plain text)";
  return tok;
}

Token Lexer::lexIdentifier(const char *start) {
  while (cur < buffer.end() &&
         (std::isalnum(static_cast<unsigned char>(*cur)) || *cur == '_'))
    ++cur;
  llvm::StringRef text(start, cur - start);
  TokenKind kind = llvm::StringSwitch<TokenKind>(text)
                       .Case("block", TokenKind::kw_block)
                       .Case("const", TokenKind::kw_const)
                       .Case("false", TokenKind::kw_false)
                       .Case("frozen", TokenKind::kw_frozen)
                       .Case("input", TokenKind::kw_input)
                       .Case("network", TokenKind::kw_network)
                       .Case("output", TokenKind::kw_output)
                       .Case("repeat", TokenKind::kw_repeat)
                       .Case("return", TokenKind::kw_return)
                       .Case("train", TokenKind::kw_train)
                       .Case("true", TokenKind::kw_true)
                       .Default(TokenKind::identifier);
  return make(kind, start);
}

Token Lexer::lexNumber(const char *start) {
  auto isDigit = [&] {
    return cur < buffer.end() && std::isdigit(static_cast<unsigned char>(*cur));
  };
  bool isFloat = *start == '.';
  while (isDigit())
    ++cur;
  if (cur < buffer.end() && *cur == '.') {
    isFloat = true;
    ++cur;
    while (isDigit())
      ++cur;
  }
  if (cur < buffer.end() && (*cur == 'e' || *cur == 'E')) {
    const char *save = cur++;
    if (cur < buffer.end() && (*cur == '+' || *cur == '-'))
      ++cur;
    if (isDigit()) {
      isFloat = true;
      while (isDigit())
        ++cur;
    } else {
      cur = save;
    }
  }
  // A number running straight into a name ("5x5") is a typo worth naming.
  if (cur < buffer.end() &&
      (std::isalpha(static_cast<unsigned char>(*cur)) || *cur == '_')) {
    while (cur < buffer.end() &&
           (std::isalnum(static_cast<unsigned char>(*cur)) || *cur == '_'))
      ++cur;
    Token tok = make(TokenKind::error, start);
    tok.message = "invalid number '" + tok.text.str() +
                  "' (write sizes as 5 or [5, 3], not 5x3)";
    return tok;
  }

  Token tok = make(isFloat ? TokenKind::floating : TokenKind::integer, start);
  std::string text = tok.text.str();
  if (isFloat) {
    errno = 0;
    double value = std::strtod(text.c_str(), nullptr);
    if (errno == ERANGE || !std::isfinite(value)) {
      tok.kind = TokenKind::error;
      tok.message = "number '" + text + "' is out of range";
    }
    tok.floatValue = value;
    return tok;
  }
  int64_t value = 0;
  for (char d : text) {
    if (__builtin_mul_overflow(value, 10, &value) ||
        __builtin_add_overflow(value, d - '0', &value)) {
      tok.kind = TokenKind::error;
      tok.message = "integer '" + text + "' does not fit in 64 bits";
      return tok;
    }
  }
  tok.intValue = value;
  return tok;
}

Token Lexer::lexString(const char *start) {
  while (cur < buffer.end() && *cur != '"' && *cur != '\n')
    ++cur;
  if (cur >= buffer.end() || *cur != '"') {
    Token tok = make(TokenKind::error, start);
    tok.message = "unterminated string (strings end on the same line with '\"')";
    return tok;
  }
  ++cur;
  return make(TokenKind::string, start);
}
