// UTF-8 and the Unicode character classes the tokenizer.json pipeline rests on, with the
// semantics of the Rust `tokenizers` crate (Oniguruma regexes, Rust `char` predicates).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace e2llm::bpe {

// Character classes as bit flags; one code point can have several (Nd is number and word).
enum CharClass : std::uint8_t {
  kLetter = 1,  // \p{L}: Lu Ll Lt Lm Lo
  kNumber = 2,  // \p{N}: Nd Nl No (also Rust's char::is_numeric)
  kSpace = 4,   // \s: the White_Space property (Oniguruma's and Rust's definition)
  kWord = 8,    // Rust regex \w: letters, marks, Nd, Nl, Pc, ZWNJ/ZWJ
  kPunct = 16,  // \p{P}: Pc Pd Ps Pe Pi Pf Po
};

// The classes of code point `cp` (from utf8proc; a table built on first use).
std::uint8_t char_class(char32_t cp);

inline bool is_letter(char32_t cp) {
  return char_class(cp) & kLetter;
}
inline bool is_number(char32_t cp) {
  return char_class(cp) & kNumber;
}
inline bool is_space(char32_t cp) {
  return char_class(cp) & kSpace;
}
inline bool is_punct(char32_t cp) {
  return char_class(cp) & kPunct;
}
inline bool is_word(char32_t cp) {
  return char_class(cp) & kWord;
}

// Decodes the code point at text[pos] (text must be valid UTF-8); sets `len` to its size.
inline char32_t decode_at(std::string_view text, std::size_t pos, std::size_t& len) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) {
    len = 1;
    return b0;
  }
  auto cont = [&](std::size_t i) { return static_cast<char32_t>(static_cast<unsigned char>(text[pos + i]) & 0x3F); };
  if (b0 < 0xE0) {
    len = 2;
    return (static_cast<char32_t>(b0 & 0x1F) << 6) | cont(1);
  }
  if (b0 < 0xF0) {
    len = 3;
    return (static_cast<char32_t>(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2);
  }
  len = 4;
  return (static_cast<char32_t>(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

// The size in bytes of the UTF-8 sequence starting with lead byte `b0` (valid UTF-8).
inline std::size_t utf8_length(unsigned char b0) {
  return b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4;
}

void append_utf8(std::string& out, char32_t cp);

// Bytes to valid UTF-8: every maximal invalid subsequence becomes one U+FFFD (the Unicode
// "maximal subpart" practice, as Rust's String::from_utf8_lossy and Python's "replace").
std::string utf8_lossy(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// Unicode normalization forms through utf8proc: "NFC", "NFD", "NFKC", "NFKD".
std::string normalize_form(std::string_view text, std::string_view form);

}  // namespace e2llm::bpe
