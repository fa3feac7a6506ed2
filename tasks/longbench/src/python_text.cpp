#include "e2llm/longbench/python_text.hpp"

#include <utf8proc.h>

namespace e2llm::longbench::py {

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(text.size());
  while (left > 0) {
    utf8proc_int32_t c = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &c);
    if (n <= 0) {  // an invalid byte: replace it and move on by one byte
      out.push_back(U'\uFFFD');
      ++p, --left;
      continue;
    }
    out.push_back(static_cast<char32_t>(c));
    p += n, left -= n;
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  utf8proc_uint8_t buf[4];
  for (char32_t c : text) {
    utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
  }
  return out;
}

bool is_space(char32_t c) {
  // The fixed list CPython's _PyUnicode_IsWhitespace answers true for.
  if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return true;
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_word(char32_t c) {
  if (c == U'_') return true;
  if (c < 0x80) return (c >= U'0' && c <= U'9') || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z');
  // str.isalnum(): isalpha (L*) or isdecimal/isdigit/isnumeric (N*).
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

namespace {

// Unicode "Cased": Lu, Ll, Lt or a letter with a case mapping (Other_Lowercase/Uppercase).
bool is_cased(char32_t c) {
  // Other_Lowercase/Other_Uppercase letters without a case mapping that are not skipped as
  // case-ignorable: ordinal indicators, squared and negative circled/squared capitals.
  if (c == 0xAA || c == 0xBA || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
      (c >= 0x1F170 && c <= 0x1F189))
    return true;
  auto cp = static_cast<utf8proc_int32_t>(c);
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
      return true;
    default:
      return utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
  }
}

// Unicode "Case_Ignorable": Mn, Me, Cf, Lm, Sk, or Word_Break MidLetter/MidNumLet/Single_Quote.
bool is_case_ignorable(char32_t c) {
  switch (c) {
    case 0x27:
    case 0x2E:
    case 0x3A:
    case 0xB7:
    case 0x387:
    case 0x55F:
    case 0x5F4:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0xFE13:
    case 0xFE52:
    case 0xFE55:
    case 0xFF07:
    case 0xFF0E:
    case 0xFF1A:
      return true;
    default:
      break;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      return false;
  }
}

// CPython's handle_capital_sigma: final form when preceded by a cased letter and not
// followed by one (case-ignorable characters skipped on both sides).
char32_t lower_sigma(std::u32string_view s, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  bool final_sigma = j > 0 && is_cased(s[j - 1]);
  if (final_sigma) {
    std::size_t k = i + 1;
    while (k < s.size() && is_case_ignorable(s[k])) ++k;
    final_sigma = k == s.size() || !is_cased(s[k]);
  }
  return final_sigma ? U'\u03C2' : U'\u03C3';
}

}  // namespace

std::u32string lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char32_t c = text[i];
    if (c < 0x80) {
      out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
    } else if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
      out.push_back(U'i');
      out.push_back(U'\u0307');
    } else if (c == 0x3A3) {
      out.push_back(lower_sigma(text, i));
    } else {
      out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

std::vector<std::u32string> split(std::u32string_view text) {
  std::vector<std::u32string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

std::u32string join_spaces(const std::vector<std::u32string>& pieces) {
  std::u32string out;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (i) out.push_back(U' ');
    out += pieces[i];
  }
  return out;
}

}  // namespace e2llm::longbench::py
