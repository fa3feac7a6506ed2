#include "gguf_tokenizer.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "e2llm/bpe/bpe_model.hpp"
#include "e2llm/bpe/pretokenize.hpp"
#include "e2llm/bpe/unicode.hpp"
#include "e2llm/error.hpp"
#include "pre_tokenizers.hpp"
#include "spm.hpp"

namespace e2llm::gguftok {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  std::size_t prev = 0;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, prev)) {
    out.append(text, prev, at - prev).append(to);
    prev = at + from.size();
  }
  out.append(text, prev, std::string::npos);
  text = std::move(out);
}

// "<0xNN>" -> NN, else -1.
int byte_of(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  const int hi = hex(token[3]), lo = hex(token[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

// The bytes a byte-level token stands for: each character through GPT-2's map back to its
// byte; a token with a character outside the map (never in a converted vocabulary) is
// taken as its own UTF-8, as tokenizers' ByteLevel decoder does.
std::string byte_level_bytes(const std::string& token) {
  if (!bpe::is_valid_utf8(token)) return token;
  std::string bytes;
  for (std::size_t i = 0; i < token.size();) {
    std::size_t len;
    const int b = bpe::unicode_to_byte(bpe::decode_at(token, i, len));
    if (b < 0) return token;
    bytes.push_back(static_cast<char>(b));
    i += len;
  }
  return bytes;
}

}  // namespace

GgufTokenizer::GgufTokenizer(GgufVocab vocab) : vocab_(std::move(vocab)) {
  const std::size_t n = vocab_.tokens.size();
  by_text_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    by_text_.emplace(vocab_.tokens[i], static_cast<std::int32_t>(i));
    if (vocab_.types[i] == TokenType::user_defined) user_defined_.push_back(static_cast<std::int32_t>(i));
  }
  std::stable_sort(user_defined_.begin(), user_defined_.end(),
                   [&](std::int32_t a, std::int32_t b) { return vocab_.tokens[a].size() > vocab_.tokens[b].size(); });

  const bool byte_level = vocab_.kind == VocabKind::byte_level_bpe;
  if (byte_level) {
    const PreTokenizerInfo* pre = find_pre_tokenizer(vocab_.pre);  // read_gguf_vocab checked it
    pre_tokenizer_ = bpe::make_pre_tokenizer(nlohmann::json::parse(pre->spec));
    std::vector<std::pair<std::string, std::int32_t>> ids;
    ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) ids.emplace_back(vocab_.tokens[i], static_cast<std::int32_t>(i));
    bpe::BpeOptions options;
    options.ignore_merges = pre->ignore_merges;
    try {
      bpe_ = std::make_unique<bpe::BpeModel>(ids, vocab_.merges, options);
    } catch (const Error& e) {
      throw Error(std::string("tokenizer.ggml.merges: ") + e.what());
    }
  } else {
    spm_ = std::make_unique<SpmModel>(vocab_);
  }

  // What each id decodes to (llama.cpp's token_to_piece without special tokens).
  pieces_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& token = vocab_.tokens[i];
    switch (vocab_.types[i]) {
      case TokenType::normal:
        if (byte_level) {
          pieces_[i] = byte_level_bytes(token);
        } else {
          pieces_[i] = token;
          replace_all(pieces_[i], kSpace, " ");
        }
        break;
      case TokenType::user_defined:
        pieces_[i] = token;
        break;
      case TokenType::byte:
        if (int b = byte_of(token); b >= 0) pieces_[i] = std::string(1, static_cast<char>(b));
        break;
      default:  // control, unknown, unused, undefined: nothing
        break;
    }
  }
}

GgufTokenizer::~GgufTokenizer() = default;

std::unique_ptr<GgufTokenizer> tokenizer_from_gguf(const formats::gguf::File& file) {
  try {
    return std::make_unique<GgufTokenizer>(read_gguf_vocab(file));
  } catch (const Error& e) {
    throw Error("tokenizer " + file.name + ": " + e.what());
  }
}

std::optional<std::int32_t> GgufTokenizer::token_id(std::string_view token) const {
  auto it = by_text_.find(token);
  if (it == by_text_.end()) return std::nullopt;
  return it->second;
}

// llama.cpp's tokenizer_st_partition with parse_special = false: for each user-defined
// token, longest first, every occurrence in the text not yet cut becomes that token.
std::vector<GgufTokenizer::Fragment> GgufTokenizer::split_user_defined(std::string_view text) const {
  std::vector<Fragment> fragments{{0, text.size(), -1}};
  for (std::int32_t id : user_defined_) {
    const std::string& token = vocab_.tokens[id];
    std::vector<Fragment> next;
    for (const Fragment& f : fragments) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::size_t from = f.start;
      const std::size_t end = f.start + f.length;
      for (std::size_t at = text.find(token, from); at != std::string_view::npos && at + token.size() <= end;
           at = text.find(token, from)) {
        if (at > from) next.push_back({from, at - from, -1});
        next.push_back({at, token.size(), id});
        from = at + token.size();
      }
      if (from < end) next.push_back({from, end - from, -1});
    }
    fragments = std::move(next);
  }
  return fragments;
}

void GgufTokenizer::encode_fragment(std::string_view text, bool after_token, std::vector<std::int32_t>& out) const {
  if (spm_) {
    // A space before the text, and before text following a token (llama.cpp's SPM path).
    std::string escaped = vocab_.add_space_prefix && after_token ? " " : "";
    escaped.append(text);
    replace_all(escaped, " ", kSpace);
    spm_->tokenize(escaped, out);
    return;
  }
  std::vector<bpe::Piece> words;
  pre_tokenizer_->split(bpe::Piece{std::string(text), true}, words);
  for (const auto& w : words) bpe_->tokenize(w.text, out);
}

std::vector<std::int32_t> GgufTokenizer::encode(std::string_view raw) const {
  std::string repaired;
  if (!bpe::is_valid_utf8(raw)) repaired = bpe::utf8_lossy(raw);  // text from files may be invalid
  const std::string_view text = repaired.empty() ? raw : std::string_view(repaired);
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 1);
  if (text.empty()) return out;
  bool after_token = true;  // the start of the text counts as following a token
  for (const Fragment& f : split_user_defined(text)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_token = true;
    } else {
      encode_fragment(text.substr(f.start, f.length), after_token, out);
      after_token = false;
    }
  }
  return out;
}

const std::string& GgufTokenizer::piece_of(std::int32_t id) const {
  if (id < 0 || id >= size())
    throw Error("tokenizer decode: id " + std::to_string(id) + " is outside the vocabulary (size " +
                std::to_string(size()) + ")");
  return pieces_[static_cast<std::size_t>(id)];
}

std::string GgufTokenizer::decode(const std::vector<std::int32_t>& ids) const {
  for (std::int32_t id : ids) piece_of(id);  // every id in range, before anything is decoded
  return spm_ ? decode_spm(ids) : decode_bpe(ids);
}

// Byte-level: the bytes of all tokens, read as UTF-8 with each maximal invalid sequence as one
// U+FFFD (tokenizers' ByteLevel decoder, which transformers uses).
std::string GgufTokenizer::decode_bpe(const std::vector<std::int32_t>& ids) const {
  std::string bytes;
  bool first = true;
  for (std::int32_t id : ids) {
    if (vocab_.types[static_cast<std::size_t>(id)] == TokenType::control) continue;
    std::string piece = pieces_[static_cast<std::size_t>(id)];
    if (first && vocab_.add_space_prefix && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
    first = false;
    bytes += piece;
  }
  return bpe::utf8_lossy(bytes);
}

// As SentencePiece decodes (sentencepiece_processor.cc, Decode): a run of byte tokens is read
// character by character, each byte that starts no valid character one U+FFFD; the space the
// encoder put before the text comes off the first piece, when no text precedes it (control
// tokens are invisible); unknown tokens are left out, as llama.cpp leaves them out.
std::string GgufTokenizer::decode_spm(const std::vector<std::int32_t>& ids) const {
  std::string text, bytes;
  auto flush_bytes = [&] {
    for (std::size_t at = 0; at < bytes.size();) {
      const std::size_t len = bpe::utf8_length(static_cast<unsigned char>(bytes[at]));
      if (at + len <= bytes.size() && bpe::is_valid_utf8(std::string_view(bytes).substr(at, len))) {
        text.append(bytes, at, len);
        at += len;
      } else {
        text += "\xEF\xBF\xBD";
        at += 1;
      }
    }
    bytes.clear();
  };
  bool may_strip = vocab_.add_space_prefix, stripped = false;
  for (std::int32_t id : ids) {
    const TokenType type = vocab_.types[static_cast<std::size_t>(id)];
    if (type == TokenType::byte) {
      bytes += pieces_[static_cast<std::size_t>(id)];
      continue;
    }
    flush_bytes();
    if (stripped || !text.empty()) may_strip = false;
    stripped = false;
    std::string piece = pieces_[static_cast<std::size_t>(id)];
    if (type != TokenType::control && may_strip && !piece.empty() && piece[0] == ' ') {
      piece.erase(0, 1);
      stripped = true;
    }
    text += piece;
  }
  flush_bytes();
  return bpe::utf8_lossy(text);  // a no-op unless the file holds a token that is not UTF-8
}

}  // namespace e2llm::gguftok
