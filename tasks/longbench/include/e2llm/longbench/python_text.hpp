// The few Python 3 string semantics the official LongBench metrics depend on, on
// UTF-32 code points: str.lower(), str.isspace() / str.split(), and `re`'s \w.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace e2llm::longbench::py {

// UTF-8 <-> code points. Invalid UTF-8 bytes decode to U+FFFD (Python could not hold them).
std::u32string decode_utf8(std::string_view text);
std::string encode_utf8(std::u32string_view text);

// Py_UNICODE_ISSPACE: bidi class WS/B/S or category Zs, e.g. \x1c-\x1f, \x85, \xa0, \u3000.
bool is_space(char32_t c);
// `re` word character for str patterns: str.isalnum() or '_'.
bool is_word(char32_t c);
// str.lower(): full lowercase mapping (U+0130 -> "i\u0307") and the Final_Sigma rule.
std::u32string lower(std::u32string_view text);
// str.split() with no arguments: runs of whitespace separate, no empty pieces.
std::vector<std::u32string> split(std::u32string_view text);
// " ".join(pieces)
std::u32string join_spaces(const std::vector<std::u32string>& pieces);

}  // namespace e2llm::longbench::py
