#include "e2llm/bpe/pretokenize.hpp"

#include <algorithm>
#include <array>
#include <functional>

#include "e2llm/bpe/unicode.hpp"
#include "e2llm/error.hpp"

namespace e2llm::bpe {
namespace {

using nlohmann::json;

// The regexes exactly as the files spell them.
constexpr std::string_view kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Patterns that match somewhere (not at every position), as llama.cpp's "default" BPE
// pre-tokenizer chains them after its punctuation run (docs/tokenizer-gguf.md §Pre-tokenizers).
constexpr std::string_view kPunctRunRegex = R"([\p{P}\$\+<=>\^~\|]+)";
constexpr std::string_view kNumberRunRegex = R"(\p{N}+)";
constexpr std::string_view kDigitTripleRegex = "[0-9][0-9][0-9]";
constexpr const char* kSupportedPreTokenizers = "ByteLevel, Split, Sequence, Digits, Metaspace";

// --- scanning helpers over valid UTF-8 --------------------------------------------------

struct Cursor {
  std::string_view text;
  char32_t at(std::size_t pos, std::size_t& len) const { return decode_at(text, pos, len); }
  char32_t at(std::size_t pos) const {
    std::size_t len;
    return decode_at(text, pos, len);
  }
  std::size_t next(std::size_t pos) const { return pos + utf8_length(static_cast<unsigned char>(text[pos])); }
  // The end of the run of characters satisfying `pred` from `pos`.
  template <class Pred>
  std::size_t run(std::size_t pos, Pred pred) const {
    while (pos < text.size()) {
      std::size_t len;
      if (!pred(decode_at(text, pos, len))) break;
      pos += len;
    }
    return pos;
  }
};

bool is_other(char32_t c) {
  return !(char_class(c) & (kLetter | kNumber | kSpace));
}
bool is_crlf(char32_t c) {
  return c == U'\r' || c == U'\n';
}

// 's 't 're 've 'm 'll 'd at `pos` (which holds an apostrophe); with `fold`, letters match
// case-insensitively under Unicode simple case folding (Oniguruma's (?i:...)), where the
// long s U+017F folds to s.
std::size_t match_contraction(const Cursor& c, std::size_t pos, bool fold) {
  auto letter = [&](std::size_t at, char lower) -> std::size_t {
    if (at >= c.text.size()) return 0;
    std::size_t len;
    char32_t ch = c.at(at, len);
    bool ok = ch == static_cast<char32_t>(lower) ||
              (fold && (ch == static_cast<char32_t>(lower - 'a' + 'A') || (lower == 's' && ch == 0x017F)));
    return ok ? len : 0;
  };
  const std::size_t p1 = pos + 1;
  for (char one : {'s', 't', 'm', 'd'})
    if (std::size_t n = letter(p1, one)) return p1 + n;
  for (auto two : {"re", "ve", "ll"}) {
    if (std::size_t n1 = letter(p1, two[0]))
      if (std::size_t n2 = letter(p1 + n1, two[1])) return p1 + n1 + n2;
  }
  return 0;
}

// \s+(?!\S) then \s+, from `pos` (a whitespace character).
std::size_t match_trailing_space(const Cursor& c, std::size_t pos) {
  std::size_t end = c.run(pos, is_space);
  if (end == c.text.size()) return end;
  // Followed by a non-space: give the last space back, unless it is the only one.
  std::size_t last = pos, p = pos;
  while (p < end) last = p, p = c.next(p);
  return last > pos ? last : end;
}

std::size_t match_gpt2(const Cursor& c, std::size_t pos) {
  std::size_t len;
  const char32_t ch = c.at(pos, len);
  if (ch == U'\'')
    if (std::size_t end = match_contraction(c, pos, false)) return end;
  std::size_t start = pos;
  char32_t first = ch;
  if (ch == U' ' && pos + 1 < c.text.size()) {
    char32_t after = c.at(pos + 1);
    if (!is_space(after)) start = pos + 1, first = after;  // " ?" then a letter/number/other run
  }
  if (is_letter(first)) return c.run(start, is_letter);
  if (is_number(first)) return c.run(start, is_number);
  if (is_other(first)) return c.run(start, is_other);
  return match_trailing_space(c, pos);
}

std::size_t match_llama3(const Cursor& c, std::size_t pos, int max_digits) {
  std::size_t len;
  const char32_t ch = c.at(pos, len);
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (ch == U'\'')
    if (std::size_t end = match_contraction(c, pos, true)) return end;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (is_letter(ch)) return c.run(pos, is_letter);
  if (!is_crlf(ch) && !is_number(ch) && pos + len < c.text.size() && is_letter(c.at(pos + len)))
    return c.run(pos + len, is_letter);
  // \p{N}{1,max}
  if (is_number(ch)) {
    std::size_t end = pos;
    for (int i = 0; i < max_digits && end < c.text.size(); ++i) {
      std::size_t l;
      if (!is_number(c.at(end, l))) break;
      end += l;
    }
    return end;
  }
  // " ?[^\s\p{L}\p{N}]+[\r\n]*"
  std::size_t start = pos;
  if (ch == U' ' && pos + 1 < c.text.size() && is_other(c.at(pos + 1))) start = pos + 1;
  if (is_other(c.at(start))) return c.run(c.run(start, is_other), is_crlf);
  // \s*[\r\n]+ : up to the last line break of the whitespace run
  std::size_t end = c.run(pos, is_space), after_break = 0;
  for (std::size_t p = pos; p < end; p = c.next(p))
    if (is_crlf(c.at(p))) after_break = p + 1;
  if (after_break) return after_break;
  return match_trailing_space(c, pos);
}

// --- split behaviors ----------------------------------------------------------------------

struct Span {
  std::size_t start, end;
  bool is_match;
};

std::vector<Span> known_regex_spans(KnownRegex regex, std::string_view text) {
  std::vector<Span> spans;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = match_known_regex(regex, text, pos);
    spans.push_back({pos, end, true});
    pos = end;
  }
  return spans;
}

// Matches and the gaps between them, from a function giving the next match at or after a
// position (npos: none).
template <class FindNext>
std::vector<Span> spans_from_matches(std::string_view text, FindNext find_next) {
  std::vector<Span> spans;
  std::size_t prev = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    auto [start, end] = find_next(pos);
    if (start == std::string_view::npos) break;
    if (prev != start) spans.push_back({prev, start, false});
    spans.push_back({start, end, true});
    prev = pos = end;
  }
  if (prev != text.size()) spans.push_back({prev, text.size(), false});
  return spans;
}

std::vector<Span> literal_spans(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return {{0, text.size(), false}};
  return spans_from_matches(text, [&](std::size_t pos) -> std::pair<std::size_t, std::size_t> {
    std::size_t at = text.find(pattern, pos);
    return {at, at == std::string_view::npos ? at : at + pattern.size()};
  });
}

// Every character satisfying `pred` is one match (tokenizers' Pattern for Fn(char) -> bool).
template <class Pred>
std::vector<Span> char_spans(std::string_view text, Pred pred) {
  Cursor c{text};
  return spans_from_matches(text, [&](std::size_t pos) -> std::pair<std::size_t, std::size_t> {
    for (std::size_t p = pos; p < text.size();) {
      std::size_t len;
      if (pred(c.at(p, len))) return {p, p + len};
      p += len;
    }
    return {std::string_view::npos, std::string_view::npos};
  });
}

std::vector<std::pair<std::size_t, std::size_t>> apply_behavior(const std::vector<Span>& spans,
                                                                SplitBehavior behavior) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::removed:
      for (const auto& s : spans)
        if (!s.is_match) out.emplace_back(s.start, s.end);
      break;
    case SplitBehavior::isolated:
      for (const auto& s : spans) out.emplace_back(s.start, s.end);
      break;
    case SplitBehavior::contiguous:
      for (const auto& s : spans) {
        if (s.is_match == previous_match && !out.empty())
          out.back().second = s.end;
        else
          out.emplace_back(s.start, s.end);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::merged_with_previous:
      for (const auto& s : spans) {
        if (s.is_match && !previous_match && !out.empty())
          out.back().second = s.end;
        else
          out.emplace_back(s.start, s.end);
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::merged_with_next:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty())
          out.back().first = it->start;
        else
          out.emplace_back(it->start, it->end);
        previous_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
  return out;
}

void emit_spans(Piece&& piece, const std::vector<Span>& spans, SplitBehavior behavior, std::vector<Piece>& out) {
  if (spans.size() == 1 && behavior != SplitBehavior::removed) {  // nothing to cut
    if (!piece.text.empty()) out.push_back(std::move(piece));
    return;
  }
  for (auto [start, end] : apply_behavior(spans, behavior)) {
    if (end <= start) continue;
    out.push_back({piece.text.substr(start, end - start), piece.at_origin && start == 0});
  }
}

// --- the pre-tokenizers -------------------------------------------------------------------

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> stages) : stages_(std::move(stages)) {}
  void split(Piece&& piece, std::vector<Piece>& out) const override {
    std::vector<Piece> current{std::move(piece)}, next;
    for (const auto& stage : stages_) {
      next.clear();
      for (auto& p : current) stage->split(std::move(p), next);
      std::swap(current, next);
    }
    for (auto& p : current) out.push_back(std::move(p));
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> stages_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void split(Piece&& piece, std::vector<Piece>& out) const override {
    if (add_prefix_space_ && (piece.text.empty() || piece.text[0] != ' ')) piece.text.insert(0, 1, ' ');
    const std::size_t first = out.size();
    if (use_regex_)
      emit_spans(std::move(piece), known_regex_spans(KnownRegex::gpt2, piece.text), SplitBehavior::isolated, out);
    else if (!piece.text.empty())
      out.push_back(std::move(piece));
    for (std::size_t i = first; i < out.size(); ++i) {
      std::string mapped;
      mapped.reserve(out[i].text.size() * 2);
      for (unsigned char b : out[i].text) mapped += byte_to_unicode(b);
      out[i].text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_, use_regex_;
};

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(std::function<std::vector<Span>(std::string_view)> find, SplitBehavior behavior, bool invert)
      : find_(std::move(find)), behavior_(behavior), invert_(invert) {}
  void split(Piece&& piece, std::vector<Piece>& out) const override {
    if (piece.text.empty()) return;
    auto spans = find_(piece.text);
    if (invert_)
      for (auto& s : spans) s.is_match = !s.is_match;
    emit_spans(std::move(piece), spans, behavior_, out);
  }

 private:
  std::function<std::vector<Span>(std::string_view)> find_;
  SplitBehavior behavior_;
  bool invert_;
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  enum class Prepend { always, first, never };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void split(Piece&& piece, std::vector<Piece>& out) const override {
    std::string text;
    text.reserve(piece.text.size() + replacement_.size());
    for (char ch : piece.text) {
      if (ch == ' ')
        text += replacement_;
      else
        text.push_back(ch);
    }
    bool starts = text.compare(0, replacement_.size(), replacement_) == 0;
    if (!starts && (prepend_ == Prepend::always || (prepend_ == Prepend::first && piece.at_origin)))
      text.insert(0, replacement_);
    piece.text = std::move(text);
    if (!split_) {
      if (!piece.text.empty()) out.push_back(std::move(piece));
      return;
    }
    auto spans = literal_spans(replacement_, piece.text);
    emit_spans(std::move(piece), spans, SplitBehavior::merged_with_next, out);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

SplitBehavior parse_behavior(const json& spec) {
  const std::string name = spec.value("behavior", std::string("Isolated"));
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  throw Error("pre_tokenizer Split behavior '" + name +
              "' is not supported (supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
}

// The spans of one of the find-style regexes above: runs of a character class, or three
// ASCII digits (leftmost, not overlapping).
std::function<std::vector<Span>(std::string_view)> find_regex_spans(std::string_view regex) {
  if (regex == kDigitTripleRegex)
    return [](std::string_view text) {
      return spans_from_matches(text, [&](std::size_t pos) -> std::pair<std::size_t, std::size_t> {
        auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
        for (std::size_t p = pos; p + 3 <= text.size(); ++p)
          if (digit(p) && digit(p + 1) && digit(p + 2)) return {p, p + 3};
        return {std::string_view::npos, std::string_view::npos};
      });
    };
  std::function<bool(char32_t)> in_class;
  if (regex == kNumberRunRegex)
    in_class = [](char32_t c) { return is_number(c); };
  else
    in_class = [](char32_t c) {
      return is_punct(c) || c == U'$' || c == U'+' || c == U'<' || c == U'=' || c == U'>' || c == U'^' || c == U'~' ||
             c == U'|';
    };
  return [in_class](std::string_view text) {
    Cursor c{text};
    return spans_from_matches(text, [&](std::size_t pos) -> std::pair<std::size_t, std::size_t> {
      for (std::size_t p = pos; p < text.size();) {
        std::size_t len;
        if (in_class(c.at(p, len))) return {p, c.run(p, in_class)};
        p += len;
      }
      return {std::string_view::npos, std::string_view::npos};
    });
  };
}

std::unique_ptr<PreTokenizer> make_split(const json& spec) {
  const json& pattern = spec.at("pattern");
  std::function<std::vector<Span>(std::string_view)> find;
  if (pattern.contains("String")) {
    std::string literal = pattern["String"].get<std::string>();
    find = [literal](std::string_view text) { return literal_spans(literal, text); };
  } else if (pattern.contains("Regex")) {
    const std::string regex = pattern["Regex"].get<std::string>();
    KnownRegex known;
    if (regex == kGpt2Regex)
      known = KnownRegex::gpt2;
    else if (regex == kLlama3Regex)
      known = KnownRegex::llama3;
    else if (regex == kQwen2Regex)
      known = KnownRegex::qwen2;
    else if (regex == kPunctRunRegex || regex == kNumberRunRegex || regex == kDigitTripleRegex)
      return std::make_unique<SplitPreTokenizer>(find_regex_spans(regex), parse_behavior(spec),
                                                 spec.value("invert", false));
    else
      throw Error("pre_tokenizer Split regex '" + regex +
                  "' is not supported (supported: the GPT-2, Llama 3 and Qwen2 split regexes, " +
                  std::string(kPunctRunRegex) + ", " + std::string(kNumberRunRegex) + ", " +
                  std::string(kDigitTripleRegex) + ")");
    find = [known](std::string_view text) { return known_regex_spans(known, text); };
  } else {
    throw Error("pre_tokenizer Split pattern must be {\"String\": ...} or {\"Regex\": ...}");
  }
  return std::make_unique<SplitPreTokenizer>(std::move(find), parse_behavior(spec), spec.value("invert", false));
}

std::unique_ptr<PreTokenizer> make_metaspace(const json& spec) {
  std::string replacement = spec.value("replacement", std::string("\u2581"));
  std::string scheme = spec.value("prepend_scheme", std::string("always"));
  if (spec.contains("add_prefix_space") && spec["add_prefix_space"] == false) scheme = "never";
  MetaspacePreTokenizer::Prepend prepend;
  if (scheme == "always")
    prepend = MetaspacePreTokenizer::Prepend::always;
  else if (scheme == "first")
    prepend = MetaspacePreTokenizer::Prepend::first;
  else if (scheme == "never")
    prepend = MetaspacePreTokenizer::Prepend::never;
  else
    throw Error("pre_tokenizer Metaspace prepend_scheme '" + scheme + "' is not one of always, first, never");
  bool split = spec.contains("split") && !spec["split"].is_null() ? spec["split"].get<bool>() : true;
  return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), prepend, split);
}

}  // namespace

std::size_t match_known_regex(KnownRegex regex, std::string_view text, std::size_t pos) {
  Cursor c{text};
  switch (regex) {
    case KnownRegex::gpt2:
      return match_gpt2(c, pos);
    case KnownRegex::llama3:
      return match_llama3(c, pos, 3);
    case KnownRegex::qwen2:
      return match_llama3(c, pos, 1);
  }
  return text.size();
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = spec.value("type", std::string());
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> stages;
    for (const auto& s : spec.at("pretokenizers"))
      if (auto stage = make_pre_tokenizer(s)) stages.push_back(std::move(stage));
    return std::make_unique<SequencePreTokenizer>(std::move(stages));
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelPreTokenizer>(spec.value("add_prefix_space", true), spec.value("use_regex", true));
  if (type == "Split") return make_split(spec);
  if (type == "Metaspace") return make_metaspace(spec);
  if (type == "Digits") {
    auto numeric = [](char32_t c) { return is_number(c); };
    if (spec.value("individual_digits", false))
      return std::make_unique<SplitPreTokenizer>([numeric](std::string_view t) { return char_spans(t, numeric); },
                                                 SplitBehavior::isolated, false);
    return std::make_unique<SplitPreTokenizer>([numeric](std::string_view t) { return char_spans(t, numeric); },
                                               SplitBehavior::contiguous, false);
  }
  throw Error("pre_tokenizer type '" + type + "' is not supported (supported: " + kSupportedPreTokenizers + ")");
}

namespace {
struct ByteMap {
  std::array<std::string, 256> to_unicode;
  ByteMap() {
    // Printable Latin-1 bytes map to themselves; the others, in byte order, to U+0100 onwards.
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) append_utf8(to_unicode[b], printable(b) ? static_cast<char32_t>(b) : next++);
  }
};
const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}
}  // namespace

const std::string& byte_to_unicode(unsigned char byte) {
  return byte_map().to_unicode[byte];
}

int unicode_to_byte(char32_t cp) {
  if ((cp >= '!' && cp <= '~') || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return static_cast<int>(cp);
  if (cp < 0x100 || cp >= 0x100 + 68) return -1;
  // The 68 non-printable bytes, in order: 0x00-0x20, 0x7F-0xA0, 0xAD.
  int k = static_cast<int>(cp - 0x100);
  if (k <= 0x20) return k;
  if (k <= 0x20 + 34) return 0x7F + (k - 0x21);
  return 0xAD;
}

}  // namespace e2llm::bpe
