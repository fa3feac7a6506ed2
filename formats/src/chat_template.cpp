// Chat templates recognised from their Jinja source and rendered for one user turn
// (docs/chat-templates.md).
#include "e2llm/formats/chat_template.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <regex>

#include "e2llm/error.hpp"

namespace e2llm::formats {

namespace {

using Kind = ChatPiece::Kind;

// ---- the family table --------------------------------------------------------------------

const std::vector<ChatFamilyInfo> kFamilies = {
    {ChatFamily::chatml, "chatml", "<|im_end|>",
     "<|im_start|>system\\n{default system}<|im_end|>\\n<|im_start|>user\\n{text}<|im_end|>\\n"
     "<|im_start|>assistant\\n"},
    {ChatFamily::llama2, "llama2", "",
     "<s>[INST] {text} [/INST] (<<SYS>>\\n{system}\\n<</SYS>>\\n\\n before the text)"},
    {ChatFamily::llama3, "llama3", "<|eot_id|>",
     "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n{text}<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\\n\\n"},
    {ChatFamily::mistral, "mistral", "", "<s>[INST] {text} [/INST] (v3: [INST] {text}[/INST])"},
    {ChatFamily::gemma, "gemma", "<end_of_turn>",
     "<bos><start_of_turn>user\\n{text}<end_of_turn>\\n<start_of_turn>model\\n"},
    {ChatFamily::phi3, "phi3", "<|end|>", "<|user|>\\n{text}<|end|>\\n<|assistant|>\\n"},
    {ChatFamily::zephyr, "zephyr", "", "<|user|>\\n{text}</s>\\n<|assistant|>\\n"},
};

// ---- reading a Jinja source --------------------------------------------------------------

// A Jinja source taken apart as far as recognising a family needs: the text it writes
// verbatim (outside tags) and the string constants inside tags, both as the renderer sees
// them, and the code of the tags with each constant replaced by '#<index into literals>'
// (or by itself when it is a word, e.g. message['content']).
struct JinjaParts {
  std::vector<std::string> literals;
  std::string code;
};

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6)), out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18)), out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A string constant's body as Jinja reads it (Python's unicode-escape: \n, \t, \\, \', \xhh,
// \uXXXX, ...; an unknown escape keeps its backslash).
std::string unescape(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\' || i + 1 == body.size()) {
      out += body[i];
      continue;
    }
    const char c = body[++i];
    auto hex_escape = [&](std::size_t digits) {
      std::uint32_t cp = 0;
      for (std::size_t k = 1; k <= digits; ++k) {
        const int v = i + k < body.size() ? hex_value(body[i + k]) : -1;
        if (v < 0) return false;
        cp = cp * 16 + std::uint32_t(v);
      }
      append_utf8(out, cp);
      i += digits;
      return true;
    };
    // The one-character escapes, then \<newline> (a line continuation), \x, \u, \U, octal.
    static constexpr std::string_view kFrom = "ntrabfv\\'\"", kTo = "\n\t\r\a\b\f\v\\'\"";
    if (const std::size_t k = kFrom.find(c); k != std::string_view::npos) {
      out += kTo[k];
      continue;
    }
    switch (c) {
      case '\n':
        break;
      case 'x':
        if (!hex_escape(2)) out += "\\x";
        break;
      case 'u':
        if (!hex_escape(4)) out += "\\u";
        break;
      case 'U':
        if (!hex_escape(8)) out += "\\U";
        break;
      default:
        if (c >= '0' && c <= '7') {
          std::uint32_t cp = 0;
          std::size_t k = 0;
          for (; k < 3 && i + k < body.size() && body[i + k] >= '0' && body[i + k] <= '7'; ++k)
            cp = cp * 8 + std::uint32_t(body[i + k] - '0');
          append_utf8(out, cp);
          i += k - 1;
        } else {
          out += '\\', out += c;
        }
    }
  }
  return out;
}

JinjaParts split_jinja(std::string_view src) {
  JinjaParts parts;
  std::size_t i = 0;
  while (i < src.size()) {
    std::size_t open = src.find('{', i);
    while (open != std::string_view::npos && open + 1 < src.size() && src[open + 1] != '{' && src[open + 1] != '%' &&
           src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open == std::string_view::npos || open + 1 >= src.size()) {
      parts.literals.emplace_back(src.substr(i));
      break;
    }
    if (open > i) parts.literals.emplace_back(src.substr(i, open - i));
    const char kind = src[open + 1];
    if (kind == '#') {  // a comment: nothing of it is rendered
      const std::size_t end = src.find("#}", open + 2);
      i = end == std::string_view::npos ? src.size() : end + 2;
      continue;
    }
    const char close = kind == '{' ? '}' : '%';
    std::size_t j = open + 2;
    while (j < src.size()) {
      const char c = src[j];
      if (c == '\'' || c == '"') {  // a string constant
        std::size_t k = j + 1;
        while (k < src.size() && src[k] != c) k += src[k] == '\\' ? 2 : 1;
        std::string value = unescape(src.substr(j + 1, std::min(k, src.size()) - j - 1));
        // Keys such as message['content'] stay readable in the code; other constants are
        // named by their index.
        const bool key = !value.empty() && std::all_of(value.begin(), value.end(), [](char ch) {
          return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
        });
        parts.code += "'" + (key ? value : "#" + std::to_string(parts.literals.size())) + "'";
        parts.literals.push_back(std::move(value));
        j = k + 1;
        continue;
      }
      if (c == close && j + 1 < src.size() && src[j + 1] == '}') break;
      parts.code += c;
      ++j;
    }
    parts.code += '\n';
    i = std::min(j + 2, src.size());
  }
  return parts;
}

bool contains(const std::vector<std::string>& literals, std::string_view s) {
  for (const auto& l : literals)
    if (l.find(s) != std::string::npos) return true;
  return false;
}

// "{% for message in messages %}{% if loop.first and …" for errors: the first characters,
// newlines shown as \n.
std::string source_head(std::string_view source) {
  std::string head;
  for (char c : source.substr(0, 60)) {
    if (c == '\n')
      head += "\\n";
    else if (c == '\r')
      head += "\\r";
    else
      head += c;
  }
  // Never cut a UTF-8 sequence in half.
  while (!head.empty() && (static_cast<unsigned char>(head.back()) & 0xC0) == 0x80) head.pop_back();
  if (!head.empty() && static_cast<unsigned char>(head.back()) >= 0xC0) head.pop_back();
  return head + (source.size() > 60 ? "…" : "");
}

[[noreturn]] void refuse(std::string_view source, const std::string& why) {
  throw Error(fmt::format("chat template not recognised{} (it starts with \"{}\"); e2llm renders {}", why,
                          source_head(source), chat_family_names()));
}

// The first {% set NAME = '<constant>' %} whose NAME contains `name_part` and whose constant
// is not empty, as (NAME, constant): a default system message.
std::optional<std::pair<std::string, std::string>> assigned_literal(const JinjaParts& parts,
                                                                    const std::string& name_part) {
  static const std::regex set_re(R"(set\s+([A-Za-z_][A-Za-z_0-9.]*)\s*=\s*'#([0-9]+)'\s*(\n|$|-))");
  for (std::sregex_iterator it(parts.code.begin(), parts.code.end(), set_re), end; it != end; ++it) {
    const std::string variable = (*it)[1];
    const std::string& value = parts.literals.at(std::stoul((*it)[2]));
    if (variable.find(name_part) != std::string::npos && !value.empty()) return std::pair{variable, value};
  }
  return std::nullopt;
}

// Whether the template strips the message text: `content | trim`, `content.strip()` (also
// on message['content'] / message.content).
bool trims_content(const std::string& code) {
  static const std::regex trim_re(R"(content'?\]?\s*(\|\s*trim\b|\.strip\(\s*\)))");
  return std::regex_search(code, trim_re);
}

// Whether `code` uses the variable `identifier` (not a constant of that name).
bool mentions(const std::string& code, const std::string& identifier) {
  return std::regex_search(code, std::regex("(^|[^'A-Za-z0-9_])" + identifier + "($|[^'A-Za-z0-9_])"));
}

// A literal that is exactly `word` with whitespace on one side (Mistral's "[INST] ").
std::optional<std::string> spaced_literal(const std::vector<std::string>& literals, std::string_view word,
                                          bool space_after) {
  for (const auto& l : literals) {
    if (l.size() < word.size()) continue;
    const std::size_t at = space_after ? 0 : l.size() - word.size();
    if (l.compare(at, word.size(), word) != 0) continue;
    const std::string rest = space_after ? l.substr(word.size()) : l.substr(0, at);
    if (rest.find_first_not_of(" ") == std::string::npos) return l;
  }
  return std::nullopt;
}

ChatFamily family_of(std::string_view source, const JinjaParts& parts) {
  const auto& l = parts.literals;
  if (contains(l, "<|im_start|>")) return ChatFamily::chatml;
  if (contains(l, "<|start_header_id|>")) {
    if (contains(l, "Cutting Knowledge Date"))
      refuse(source, ": a Llama 3.1+ template (its system header carries a knowledge and a today date)");
    return ChatFamily::llama3;
  }
  if (contains(l, "<start_of_turn>")) return ChatFamily::gemma;
  if (contains(l, "[INST]")) {
    if (contains(l, "<<SYS>>")) return ChatFamily::llama2;
    if (contains(l, "[SYSTEM_PROMPT]")) refuse(source, ": a Mistral template with a [SYSTEM_PROMPT] block");
    return ChatFamily::mistral;
  }
  if (contains(l, "<|user|>") || contains(l, "<|assistant|>"))
    return contains(l, "<|end|>") ? ChatFamily::phi3 : ChatFamily::zephyr;
  refuse(source, "");
}

// ---- rendering ---------------------------------------------------------------------------

class TurnBuilder {
 public:
  void text(std::string_view s) {
    if (s.empty()) return;
    if (turn_.pieces.empty() || turn_.pieces.back().kind != Kind::text) turn_.pieces.push_back({Kind::text, ""});
    turn_.pieces.back().value += s;
  }
  void token(std::string value) { turn_.pieces.push_back({Kind::token, std::move(value)}); }
  void bos() { turn_.pieces.push_back({Kind::bos, ""}); }
  void eos() { turn_.pieces.push_back({Kind::eos, ""}); }
  // The user's text (already trimmed) inside the current text piece.
  void content(std::string_view s) {
    if (turn_.pieces.empty() || turn_.pieces.back().kind != Kind::text) turn_.pieces.push_back({Kind::text, ""});
    turn_.content_piece = turn_.pieces.size() - 1;
    turn_.content_begin = turn_.pieces.back().value.size();
    turn_.pieces.back().value += s;
  }
  // A literal such as "[INST] " where the bracketed word is a token in some vocabularies.
  void marked(std::string_view literal, std::string_view marker) {
    const std::size_t at = literal.find(marker);
    if (at == std::string_view::npos) return text(literal);
    text(literal.substr(0, at));
    token(std::string(marker));
    text(literal.substr(at + marker.size()));
  }
  ChatTurn done() { return std::move(turn_); }

 private:
  ChatTurn turn_;
};

// The user's text as the template writes it: stripped when the template trims.
std::string_view user_text(const ChatTemplate& chat, std::string_view text, std::size_t& trimmed_front) {
  trimmed_front = 0;
  if (!chat.trims_content) return text;
  const std::string_view stripped = python_strip(text);
  trimmed_front = std::size_t(stripped.data() - text.data());
  return stripped;
}

// Decodes the code point at the start (or end) of `s`; its length in `len` (0 if invalid).
std::uint32_t code_point_at(std::string_view s, bool from_end, std::size_t& len) {
  len = 0;
  if (s.empty()) return 0;
  std::size_t start = 0;
  if (from_end) {
    start = s.size() - 1;
    while (start > 0 && s.size() - start < 4 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  }
  const auto b0 = static_cast<unsigned char>(s[start]);
  std::size_t n = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || start + n > s.size() || (from_end && start + n != s.size())) return 0;
  std::uint32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[start + k]) & 0x3F);
  len = n;
  return cp;
}

// Python's str.isspace() code points.
bool is_python_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Python whitespace off the front and/or the back of `text`.
std::string_view strip_python_space(std::string_view text, bool front, bool back) {
  std::size_t len = 0;
  while (front && !text.empty() && is_python_space(code_point_at(text, false, len)) && len > 0) text.remove_prefix(len);
  while (back && !text.empty() && is_python_space(code_point_at(text, true, len)) && len > 0) text.remove_suffix(len);
  return text;
}

}  // namespace

const std::vector<ChatFamilyInfo>& chat_families() {
  return kFamilies;
}

const ChatFamilyInfo& chat_family_info(ChatFamily family) {
  for (const auto& f : kFamilies)
    if (f.family == family) return f;
  throw Error("chat family out of range");
}

std::string chat_family_names() {
  std::string out;
  for (const auto& f : kFamilies) out += (out.empty() ? "" : ", ") + std::string(f.name);
  return out;
}

std::optional<ChatFamily> chat_family_named(std::string_view name) {
  for (const auto& f : kFamilies)
    if (name == f.name) return f.family;
  return std::nullopt;
}

ChatTemplate chat_template_for(ChatFamily family) {
  ChatTemplate t;
  t.family = family;
  t.writes_bos = family == ChatFamily::llama2 || family == ChatFamily::llama3 || family == ChatFamily::mistral ||
                 family == ChatFamily::gemma;
  t.trims_content = family == ChatFamily::llama2 || family == ChatFamily::llama3 || family == ChatFamily::gemma;
  return t;
}

ChatTemplate recognise_chat_template(std::string_view source) {
  const JinjaParts parts = split_jinja(source);
  ChatTemplate t;
  t.family = family_of(source, parts);
  t.writes_bos = mentions(parts.code, "bos_token") || contains(parts.literals, "<|begin_of_text|>");
  t.trims_content = trims_content(parts.code);
  switch (t.family) {
    case ChatFamily::chatml: {
      // The system block the template writes when the conversation has none: one constant
      // holding "<|im_start|>system\n", the message and "<|im_end|>" (SmolLM2, Qwen2/2.5).
      static const std::string open = "<|im_start|>system\n", close = "<|im_end|>";
      for (const auto& l : parts.literals) {
        const std::size_t at = l.find(open);
        const std::size_t end = at == std::string::npos ? at : l.find(close, at + open.size());
        if (end == std::string::npos) continue;
        t.default_system = l.substr(at + open.size(), end - at - open.size());
        break;
      }
      break;
    }
    case ChatFamily::llama2:
    case ChatFamily::mistral: {
      if (t.family == ChatFamily::llama2) {
        if (auto system = assigned_literal(parts, "system")) t.default_system = system->second;
      } else if (auto system = assigned_literal(parts, "system")) {
        refuse(source, fmt::format(": it sets a default system message ({}), which e2llm renders for chatml and "
                                   "llama2 only",
                                   system->first));
      }
      auto open = spaced_literal(parts.literals, "[INST]", true);
      auto close = spaced_literal(parts.literals, "[/INST]", false);
      if (!open || !close) refuse(source, ": its [INST] / [/INST] are not written as plain strings");
      t.inst_open = *open;
      t.inst_close = *close;
      break;
    }
    default:
      if (auto system = assigned_literal(parts, "system"))
        refuse(source, fmt::format(": it sets a default system message ({}), which e2llm renders for chatml and "
                                   "llama2 only",
                                   system->first));
  }
  return t;
}

ChatTurn render_user_turn(const ChatTemplate& chat, std::string_view text) {
  TurnBuilder b;
  std::size_t trimmed = 0;
  if (chat.writes_bos) b.bos();
  switch (chat.family) {
    case ChatFamily::chatml:
      if (!chat.default_system.empty()) {
        b.token("<|im_start|>");
        b.text("system\n" + chat.default_system);
        b.token("<|im_end|>");
        b.text("\n");
      }
      b.token("<|im_start|>");
      b.text("user\n");
      b.content(user_text(chat, text, trimmed));
      b.token("<|im_end|>");
      b.text("\n");
      b.token("<|im_start|>");
      b.text("assistant\n");
      break;
    case ChatFamily::llama2:
    case ChatFamily::mistral: {
      b.marked(chat.inst_open, "[INST]");
      if (chat.default_system.empty()) {
        b.content(user_text(chat, text, trimmed));
      } else {
        // Llama 2 strips the whole content, the system block included: an empty text takes
        // the block's trailing newlines with it.
        const std::string block = "<<SYS>>\n" + chat.default_system + "\n<</SYS>>\n\n";
        const std::string whole = block + std::string(text);
        const std::string_view kept = chat.trims_content ? strip_python_space(whole, false, true) : whole;
        b.text(kept.substr(0, std::min(block.size(), kept.size())));
        b.content(kept.size() > block.size() ? kept.substr(block.size()) : std::string_view());
      }
      b.marked(chat.inst_close, "[/INST]");
      break;
    }
    case ChatFamily::llama3:
      b.token("<|start_header_id|>");
      b.text("user");
      b.token("<|end_header_id|>");
      b.text("\n\n");
      b.content(user_text(chat, text, trimmed));
      b.token("<|eot_id|>");
      b.token("<|start_header_id|>");
      b.text("assistant");
      b.token("<|end_header_id|>");
      b.text("\n\n");
      break;
    case ChatFamily::gemma:
      b.token("<start_of_turn>");
      b.text("user\n");
      b.content(user_text(chat, text, trimmed));
      b.token("<end_of_turn>");
      b.text("\n");
      b.token("<start_of_turn>");
      b.text("model\n");
      break;
    case ChatFamily::phi3:
    case ChatFamily::zephyr:
      b.token("<|user|>");
      b.text("\n");
      b.content(user_text(chat, text, trimmed));
      if (chat.family == ChatFamily::phi3)
        b.token("<|end|>");
      else
        b.eos();
      b.text("\n");
      b.token("<|assistant|>");
      b.text("\n");
      break;
  }
  ChatTurn turn = b.done();
  turn.trimmed_front = trimmed;
  return turn;
}

std::string_view python_strip(std::string_view text) {
  return strip_python_space(text, true, true);
}

}  // namespace e2llm::formats
