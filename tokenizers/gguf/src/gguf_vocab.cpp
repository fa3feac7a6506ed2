#include "gguf_vocab.hpp"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "e2llm/error.hpp"
#include "e2llm/util/sha256.hpp"
#include "pre_tokenizers.hpp"

namespace e2llm::gguftok {
namespace {

namespace gguf = formats::gguf;

// The keys, as llama.cpp names them (src/llama-arch.cpp, LLM_KV_TOKENIZER_*).
constexpr const char* kModel = "tokenizer.ggml.model";
constexpr const char* kPre = "tokenizer.ggml.pre";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTokenType = "tokenizer.ggml.token_type";
constexpr const char* kMerges = "tokenizer.ggml.merges";
constexpr const char* kBosId = "tokenizer.ggml.bos_token_id";
constexpr const char* kEosId = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnkId = "tokenizer.ggml.unknown_token_id";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";
constexpr const char* kAddSpacePrefix = "tokenizer.ggml.add_space_prefix";
constexpr const char* kChatTemplate = "tokenizer.chat_template";
constexpr const char* kKeyPrefix = "tokenizer.";

// A value from the file, quoted and escaped: messages stay one printable line.
std::string shown(const std::string& text) {
  return nlohmann::json(text.size() > 80 ? text.substr(0, 80) + "..." : text)
      .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

std::string type_name(gguf::Type t) {
  static const char* const names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<std::size_t>(t);
  return i < std::size(names) ? names[i] : "type " + std::to_string(i);
}

[[noreturn]] void bad(const std::string& key, const std::string& why) {
  throw Error(key + " " + why);
}

const gguf::Value* array_of(const gguf::File& f, const char* key, gguf::Type element, const char* what) {
  const gguf::Value* v = f.find(key);
  if (!v) return nullptr;
  if (!v->is_array() || v->element_type != element)
    bad(key, std::string("must be an array of ") + what + " (it is " +
                 (v->is_array() ? "an array of " + type_name(v->element_type) : "a " + type_name(v->type)) + ")");
  return v;
}

void check_length(const char* key, const gguf::Value& v, std::size_t n_tokens) {
  if (v.elements.size() != n_tokens)
    bad(key, "has " + std::to_string(v.elements.size()) + " entries but tokenizer.ggml.tokens has " +
                 std::to_string(n_tokens) + "; the file is inconsistent, re-convert it");
}

std::optional<std::int64_t> integer(const gguf::File& f, const char* key) {
  const gguf::Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (!v->is_array()) {
    if (const auto* u = std::get_if<std::uint64_t>(&v->scalar))
      return *u > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(*u);
    if (const auto* i = std::get_if<std::int64_t>(&v->scalar)) return *i;
  }
  bad(key, "must be an integer (it is " + (v->is_array() ? std::string("an array") : "a " + type_name(v->type)) + ")");
}

std::optional<bool> flag(const gguf::File& f, const char* key) {
  const gguf::Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (const auto* b = std::get_if<bool>(&v->scalar); b && !v->is_array()) return *b;
  bad(key, "must be a bool (it is " + (v->is_array() ? std::string("an array") : "a " + type_name(v->type)) + ")");
}

std::optional<std::string> text(const gguf::File& f, const char* key) {
  const gguf::Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&v->scalar); s && !v->is_array()) return *s;
  bad(key, "must be a string (it is " + (v->is_array() ? std::string("an array") : "a " + type_name(v->type)) + ")");
}

// A special token id: the file's, which must name a token, else llama.cpp's default for the
// vocabulary type when that names a token, else none.
std::int32_t special_id(const gguf::File& f, const char* key, std::int32_t fallback, std::size_t n_tokens) {
  if (auto id = integer(f, key)) {
    if (*id < 0 || static_cast<std::uint64_t>(*id) >= n_tokens)
      bad(key, std::to_string(*id) + " is outside the vocabulary (" + std::to_string(n_tokens) +
                   " tokens); the file is inconsistent, re-convert it");
    return static_cast<std::int32_t>(*id);
  }
  return fallback >= 0 && static_cast<std::size_t>(fallback) < n_tokens ? fallback : -1;
}

// sha256 over every tokenizer.* key in key order: name, value type and value (numbers as
// 8 little-endian bytes, strings length-prefixed). The weights do not enter, so every
// quantization of one model has the same fingerprint.
std::string fingerprint(const gguf::File& f) {
  util::Sha256 h;
  auto u64 = [&](std::uint64_t x) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(x >> (8 * i));
    h.update(b, 8);
  };
  auto scalar = [&](const gguf::Scalar& s) {
    if (const auto* u = std::get_if<std::uint64_t>(&s)) {
      u64(*u);
    } else if (const auto* i = std::get_if<std::int64_t>(&s)) {
      u64(static_cast<std::uint64_t>(*i));
    } else if (const auto* d = std::get_if<double>(&s)) {
      std::uint64_t bits;
      std::memcpy(&bits, d, 8);
      u64(bits);
    } else if (const auto* b = std::get_if<bool>(&s)) {
      u64(*b ? 1 : 0);
    } else {
      const auto& str = std::get<std::string>(s);
      u64(str.size());
      h.update(str);
    }
  };
  h.update("e2llm gguf tokenizer keys v1");
  for (auto it = f.metadata.lower_bound(kKeyPrefix); it != f.metadata.end(); ++it) {
    if (it->first.compare(0, std::strlen(kKeyPrefix), kKeyPrefix) != 0) break;
    const gguf::Value& v = it->second;
    u64(it->first.size());
    h.update(it->first);
    u64(static_cast<std::uint64_t>(v.type));
    if (v.is_array()) {
      u64(static_cast<std::uint64_t>(v.element_type));
      u64(v.elements.size());
      for (const auto& e : v.elements) scalar(e);
    } else {
      scalar(v.scalar);
    }
  }
  return h.hex_digest();
}

void read_tokens(const gguf::File& f, GgufVocab& out) {
  const gguf::Value* tokens = array_of(f, kTokens, gguf::Type::String, "strings");
  if (!tokens)
    bad(kTokens,
        "is missing: this GGUF carries no tokenizer; name a tokenizer file (--tokenizer, or model in "
        "[tokenizer])");
  if (tokens->elements.empty()) bad(kTokens, "is empty");
  if (tokens->elements.size() > static_cast<std::size_t>(INT32_MAX)) bad(kTokens, "has too many tokens");
  std::unordered_map<std::string, std::size_t> seen;
  out.tokens.reserve(tokens->elements.size());
  for (std::size_t i = 0; i < tokens->elements.size(); ++i) {
    std::string token = std::get<std::string>(tokens->elements[i]);
    if (token.empty()) token = "[EMPTY_" + std::to_string(i) + "]";  // llama.cpp's name for an empty token
    auto [at, inserted] = seen.emplace(token, i);
    if (!inserted)
      bad(kTokens, "holds " + shown(token) + " twice (ids " + std::to_string(at->second) + " and " + std::to_string(i) +
                       "); the file is corrupted, re-convert it");
    out.tokens.push_back(std::move(token));
  }
  const std::size_t n = out.tokens.size();

  out.scores.assign(n, 0.0f);
  if (const gguf::Value* scores = f.find(kScores)) {
    if (!scores->is_array() || (scores->element_type != gguf::Type::F32 && scores->element_type != gguf::Type::I32))
      bad(kScores, "must be an array of f32 (or i32) scores");
    check_length(kScores, *scores, n);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& e = scores->elements[i];
      out.scores[i] = static_cast<float>(
          std::holds_alternative<double>(e) ? std::get<double>(e) : static_cast<double>(std::get<std::int64_t>(e)));
      if (!std::isfinite(out.scores[i]))  // merges are ordered by score: NaN orders nothing
        bad(kScores + ("[" + std::to_string(i) + "]"), "is not a finite number");
    }
  }

  out.types.assign(n, TokenType::normal);
  if (const gguf::Value* types = array_of(f, kTokenType, gguf::Type::I32, "i32 token types")) {
    check_length(kTokenType, *types, n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t t = std::get<std::int64_t>(types->elements[i]);
      if (t < 0 || t > static_cast<std::int64_t>(TokenType::byte))
        bad(kTokenType + ("[" + std::to_string(i) + "]"),
            "is " + std::to_string(t) +
                " (token types are 0..6: undefined, normal, unknown, control, user-defined, unused, byte)");
      out.types[i] = static_cast<TokenType>(t);
    }
  }
}

void read_merges(const gguf::File& f, GgufVocab& out) {
  const gguf::Value* merges = array_of(f, kMerges, gguf::Type::String, "strings");
  if (!merges) bad(kMerges, "is missing: a gpt2 (byte-level BPE) vocabulary needs its merges; re-convert the model");
  std::unordered_set<std::string> seen;
  out.merges.reserve(merges->elements.size());
  for (std::size_t i = 0; i < merges->elements.size(); ++i) {
    const auto& line = std::get<std::string>(merges->elements[i]);
    // llama.cpp splits at the first space after the first character.
    const std::size_t space = line.find(' ', 1);
    if (space == std::string::npos || space + 1 >= line.size())
      bad(kMerges + ("[" + std::to_string(i) + "]"), shown(line) + " is not two tokens separated by a space");
    if (!seen.insert(line).second) continue;  // llama.cpp keeps a repeated pair's first rank
    out.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
}

}  // namespace

GgufVocab read_gguf_vocab(const gguf::File& f) {
  GgufVocab out;
  const std::optional<std::string> model = text(f, kModel);
  if (!f.find(kTokens) && !model)
    bad(kTokens,
        "is missing: this GGUF carries no tokenizer; name a tokenizer file (--tokenizer, or model in "
        "[tokenizer])");
  if (!model) bad(kModel, "is missing; the file is not a complete GGUF tokenizer, re-convert it");
  if (*model == "gpt2")
    out.kind = VocabKind::byte_level_bpe;
  else if (*model == "llama")
    out.kind = VocabKind::spm;
  else
    bad(kModel, shown(*model) +
                    " is not supported (supported: gpt2 - byte-level BPE with merges, llama - SentencePiece-style "
                    "scored pieces)");
  read_tokens(f, out);
  const std::size_t n = out.tokens.size();

  bool default_add_bos = true;  // llama.cpp, SPM: BOS yes, EOS no, a space before the text
  if (out.kind == VocabKind::byte_level_bpe) {
    out.pre = text(f, kPre).value_or("");
    const PreTokenizerInfo* pre = find_pre_tokenizer(out.pre);
    if (!pre)
      bad(kPre, shown(out.pre) + " is not a pre-tokenizer e2llm knows (supported: " + supported_pre_tokenizers() + ")");
    default_add_bos = pre->adds_bos;
    read_merges(f, out);
    out.bos = special_id(f, kBosId, 11, n);  // llama.cpp's BPE defaults, when the file names none
    out.eos = special_id(f, kEosId, 11, n);
    out.unk = special_id(f, kUnkId, -1, n);
    out.add_space_prefix = false;
  } else {
    out.bos = special_id(f, kBosId, 1, n);
    out.eos = special_id(f, kEosId, 2, n);
    out.unk = special_id(f, kUnkId, 0, n);
    out.add_space_prefix = true;
  }
  out.add_space_prefix = flag(f, kAddSpacePrefix).value_or(out.add_space_prefix);
  out.add_bos = flag(f, kAddBos).value_or(default_add_bos);
  out.add_eos = flag(f, kAddEos).value_or(false);
  if (out.add_bos && out.bos < 0) bad(kAddBos, "is true, but tokenizer.ggml.bos_token_id names no token");
  if (out.add_eos && out.eos < 0) bad(kAddEos, "is true, but tokenizer.ggml.eos_token_id names no token");
  out.chat_template = text(f, kChatTemplate).value_or("");
  out.fingerprint = fingerprint(f);
  return out;
}

}  // namespace e2llm::gguftok
