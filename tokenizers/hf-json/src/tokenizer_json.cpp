#include "tokenizer_json.hpp"

#include <algorithm>

#include "e2llm/bpe/bpe_model.hpp"
#include "e2llm/bpe/pretokenize.hpp"
#include "e2llm/bpe/unicode.hpp"
#include "e2llm/error.hpp"

namespace e2llm::hfjson {

using namespace e2llm::bpe;

namespace {

using nlohmann::json;

constexpr const char* kSupportedNormalizers =
    "Sequence, Prepend, Replace (string pattern), NFC, NFD, NFKC, NFKD, Strip";
constexpr const char* kSupportedDecoders =
    "Sequence, ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace (string pattern)";

std::string type_of(const json& spec) {
  return spec.is_object() ? spec.value("type", std::string()) : std::string();
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  std::size_t prev = 0;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, prev)) {
    out.append(text, prev, at - prev).append(to);
    prev = at + from.size();
  }
  if (prev == 0) return;
  out.append(text, prev, std::string::npos);
  text = std::move(out);
}

// The "String" of a Replace pattern; a regex pattern is refused with `what` in the message.
std::string literal_pattern(const json& spec, const std::string& what) {
  const json& pattern = spec.at("pattern");
  if (pattern.contains("String")) return pattern["String"].get<std::string>();
  throw Error(what + " Replace with a regex pattern is not supported (supported: a \"String\" pattern)");
}

char32_t single_char(const std::string& s, const std::string& what) {
  std::size_t len = 0;
  if (s.empty() || !is_valid_utf8(s) || (decode_at(s, 0, len), len != s.size()))
    throw Error(what + " must be a single character, not " + json(s).dump());
  return decode_at(s, 0, len);
}

// --- the model ----------------------------------------------------------------------------

std::string optional_string(const json& spec, const char* key) {
  auto it = spec.find(key);
  return it == spec.end() || it->is_null() ? std::string() : it->get<std::string>();
}

std::pair<std::string, std::string> parse_merge(const json& m) {
  if (m.is_array() && m.size() == 2) return {m[0].get<std::string>(), m[1].get<std::string>()};
  if (m.is_string()) {
    const std::string line = m.get<std::string>();
    std::size_t space = line.find(' ');
    if (space != std::string::npos && line.find(' ', space + 1) == std::string::npos)
      return {line.substr(0, space), line.substr(space + 1)};
  }
  throw Error("model.merges: entry " + m.dump() + " is not a pair of tokens (\"a b\" or [\"a\", \"b\"])");
}

// A "model" object of type BPE. Throws e2llm::Error on anything it cannot honour (dropout,
// a merge whose parts or result are not in the vocabulary).
std::unique_ptr<BpeModel> make_bpe_model(const json& spec) {
  if (auto it = spec.find("dropout"); it != spec.end() && !it->is_null() && it->get<double>() > 0.0)
    throw Error("model.dropout " + it->dump() + " is not supported: BPE dropout is random; set it to null");
  const json& vocab_spec = spec.at("vocab");
  if (!vocab_spec.is_object()) throw Error("model.vocab must be an object of token -> id");
  std::vector<std::pair<std::string, std::int32_t>> vocab;
  vocab.reserve(vocab_spec.size());
  for (auto it = vocab_spec.begin(); it != vocab_spec.end(); ++it)
    vocab.emplace_back(it.key(), it.value().get<std::int32_t>());
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& m : spec.at("merges")) merges.push_back(parse_merge(m));
  BpeOptions options;
  if (spec.contains("unk_token") && !spec["unk_token"].is_null())
    options.unk_token = spec["unk_token"].get<std::string>();
  options.continuing_subword_prefix = optional_string(spec, "continuing_subword_prefix");
  options.end_of_word_suffix = optional_string(spec, "end_of_word_suffix");
  options.fuse_unk = spec.value("fuse_unk", false);
  options.byte_fallback = spec.value("byte_fallback", false);
  options.ignore_merges = spec.value("ignore_merges", false);
  try {
    return std::make_unique<BpeModel>(vocab, merges, std::move(options));
  } catch (const Error& e) {
    throw Error(std::string("model: ") + e.what());
  }
}

// --- normalizers ---------------------------------------------------------------------------

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void apply(std::string& text) const override {
    for (const auto& s : steps_) s->apply(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void apply(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  void apply(std::string& text) const override { replace_all(text, from_, to_); }

 private:
  std::string from_, to_;
};

class FormNormalizer final : public Normalizer {
 public:
  explicit FormNormalizer(std::string form) : form_(std::move(form)) {}
  void apply(std::string& text) const override { text = normalize_form(text, form_); }

 private:
  std::string form_;
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string& text) const override {
    std::size_t begin = 0, end = text.size();
    while (left_ && begin < end) {
      std::size_t len;
      if (!is_space(decode_at(text, begin, len))) break;
      begin += len;
    }
    while (right_ && end > begin) {
      std::size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      std::size_t len;
      if (!is_space(decode_at(text, start, len))) break;
      end = start;
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

std::unique_ptr<Normalizer> make_normalizer(const json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& s : spec.at("normalizers"))
      if (auto step = make_normalizer(s)) steps.push_back(std::move(step));
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(spec.at("prepend").get<std::string>());
  if (type == "Replace")
    return std::make_unique<ReplaceNormalizer>(literal_pattern(spec, "normalizer"),
                                               spec.at("content").get<std::string>());
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") return std::make_unique<FormNormalizer>(type);
  if (type == "Strip")
    return std::make_unique<StripNormalizer>(spec.value("strip_left", true), spec.value("strip_right", true));
  throw Error("normalizer type '" + type + "' is not supported (supported: " + kSupportedNormalizers + ")");
}

// --- decoders ------------------------------------------------------------------------------

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& s : steps_) tokens = s->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// Byte-level: each token made only of byte characters becomes those bytes, any other token
// stays as it is; the bytes of all tokens are then read as UTF-8, invalid parts as U+FFFD.
class ByteLevelDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string bytes, token_bytes;
    for (const auto& t : tokens) {
      token_bytes.clear();
      bool all = true;
      for (std::size_t i = 0; i < t.size() && all;) {
        std::size_t len;
        int b = unicode_to_byte(decode_at(t, i, len));
        if (b < 0)
          all = false;
        else
          token_bytes.push_back(static_cast<char>(b));
        i += len;
      }
      bytes += all ? token_bytes : t;
    }
    return {utf8_lossy(bytes)};
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to) : from_(std::move(from)), to_(std::move(to)) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) replace_all(t, from_, to_);
    return tokens;
  }

 private:
  std::string from_, to_;
};

// Runs of <0xNN> tokens become their bytes when those form valid UTF-8, else one U+FFFD
// per byte.
class ByteFallbackDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    std::size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (is_valid_utf8(pending)) {
        out.push_back(pending);
      } else {
        for (std::size_t i = 0; i < pending_count; ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      pending.clear();
      pending_count = 0;
    };
    for (auto& t : tokens) {
      int byte = parse_byte_token(t);
      if (byte >= 0) {
        pending.push_back(static_cast<char>(byte));
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }

 private:
  // "<0xNN>" -> NN; -1 otherwise. Like Rust's u8::from_str_radix, a leading '+' is allowed.
  static int parse_byte_token(const std::string& t) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (t[3] == '+') return hex(t[4]);
    int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }
};

class FuseDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {all};
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, std::size_t start, std::size_t stop) : content_(content), start_(start), stop_(stop) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      std::vector<std::pair<std::size_t, char32_t>> chars;  // byte offset, code point
      for (std::size_t i = 0; i < t.size();) {
        std::size_t len;
        chars.emplace_back(i, decode_at(t, i, len));
        i += len;
      }
      std::size_t start_cut = 0, stop_cut = chars.size();
      for (std::size_t i = 0; i < std::min(start_, chars.size()) && chars[i].second == content_; ++i) start_cut = i + 1;
      for (std::size_t i = 0; i < stop_ && i < chars.size() && chars[chars.size() - i - 1].second == content_; ++i)
        stop_cut = chars.size() - i - 1;
      if (stop_cut <= start_cut) {
        t.clear();
        continue;
      }
      std::size_t from = chars[start_cut].first, to = stop_cut < chars.size() ? chars[stop_cut].first : t.size();
      t = t.substr(from, to - from);
    }
    return tokens;
  }

 private:
  char32_t content_;
  std::size_t start_, stop_;
};

// Each replacement character becomes a space, except in the first token when a space was
// prepended while encoding.
class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool drop_in_first)
      : replacement_(replacement), drop_in_first_(drop_in_first) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t k = 0; k < tokens.size(); ++k) {
      std::string out;
      const std::string& t = tokens[k];
      for (std::size_t i = 0; i < t.size();) {
        std::size_t len;
        char32_t c = decode_at(t, i, len);
        if (c != replacement_)
          out.append(t, i, len);
        else if (!(k == 0 && drop_in_first_))
          out.push_back(' ');
        i += len;
      }
      tokens[k] = std::move(out);
    }
    return tokens;
  }

 private:
  char32_t replacement_;
  bool drop_in_first_;
};

std::unique_ptr<Decoder> make_decoder(const json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = type_of(spec);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    for (const auto& s : spec.at("decoders"))
      if (auto step = make_decoder(s)) steps.push_back(std::move(step));
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace")
    return std::make_unique<ReplaceDecoder>(literal_pattern(spec, "decoder"), spec.at("content").get<std::string>());
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip")
    return std::make_unique<StripDecoder>(single_char(spec.at("content").get<std::string>(), "decoder Strip content"),
                                          spec.value("start", std::size_t(0)), spec.value("stop", std::size_t(0)));
  if (type == "Metaspace") {
    std::string scheme = spec.value("prepend_scheme", std::string("always"));
    if (spec.contains("add_prefix_space") && spec["add_prefix_space"] == false) scheme = "never";
    return std::make_unique<MetaspaceDecoder>(
        single_char(spec.value("replacement", std::string("\u2581")), "decoder Metaspace replacement"),
        scheme != "never");
  }
  throw Error("decoder type '" + type + "' is not supported (supported: " + kSupportedDecoders + ")");
}

// --- whitespace and word boundaries for added tokens (Rust regex \s and \w) ----------------

std::size_t start_of_trailing_space(std::string_view text, std::size_t end) {
  while (end > 0) {
    std::size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    std::size_t len;
    if (!is_space(decode_at(text, start, len))) break;
    end = start;
  }
  return end;
}

std::size_t leading_space_length(std::string_view text, std::size_t from) {
  std::size_t pos = from;
  while (pos < text.size()) {
    std::size_t len;
    if (!is_space(decode_at(text, pos, len))) break;
    pos += len;
  }
  return pos - from;
}

bool word_before(std::string_view text, std::size_t end) {
  if (end == 0) return false;
  std::size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  std::size_t len;
  return is_word(decode_at(text, start, len));
}

bool word_at(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return false;
  std::size_t len;
  return is_word(decode_at(text, pos, len));
}

}  // namespace

// --- added tokens --------------------------------------------------------------------------

void AddedTokenMatcher::build(const std::vector<AddedToken>& tokens, bool normalized) {
  patterns_.clear();
  by_first_byte_.assign(256, {});
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].normalized == normalized) patterns_.emplace_back(tokens[i].pattern, i);
  for (std::size_t p = 0; p < patterns_.size(); ++p)
    by_first_byte_[static_cast<unsigned char>(patterns_[p].first[0])].push_back(p);
  for (auto& bucket : by_first_byte_)
    std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t a, std::size_t b) {
      return patterns_[a].first.size() > patterns_[b].first.size();
    });
}

std::vector<AddedTokenMatcher::Segment> AddedTokenMatcher::split(std::string_view text,
                                                                 const std::vector<AddedToken>& tokens) const {
  std::vector<Segment> out;
  std::size_t start_offset = 0, search = 0;
  while (!patterns_.empty() && search < text.size()) {
    // The leftmost position where a pattern matches, and there the longest pattern.
    std::size_t at = search, token = 0, length = 0;
    for (; at < text.size() && length == 0; ++at) {
      for (std::size_t p : by_first_byte_[static_cast<unsigned char>(text[at])]) {
        const std::string& pattern = patterns_[p].first;
        if (text.compare(at, pattern.size(), pattern) == 0) {
          token = patterns_[p].second, length = pattern.size();
          break;
        }
      }
    }
    if (length == 0) break;
    std::size_t start = at - 1, stop = start + length;
    search = stop;
    const AddedToken& t = tokens[token];
    if (t.single_word && (word_before(text, start) || word_at(text, stop))) continue;
    if (t.lstrip) start = std::max(start_of_trailing_space(text, start), start_offset);
    if (t.rstrip) stop += leading_space_length(text, stop);
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, t.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
  return out;
}

// --- the tokenizer -------------------------------------------------------------------------

TokenizerJson::TokenizerJson(std::string_view json_text) {
  json root = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) throw Error("is not valid JSON (expected a tokenizer.json object)");
  try {
    const json& model = root.at("model");
    const std::string type = model.value("type", std::string(model.contains("merges") ? "BPE" : ""));
    if (type != "BPE")
      throw Error("model type '" + type + "' is not supported (supported: BPE — byte-level or with byte fallback)");
    model_ = make_bpe_model(model);
    normalizer_ = make_normalizer(root.value("normalizer", json()));
    pre_tokenizer_ = make_pre_tokenizer(root.value("pre_tokenizer", json()));
    decoder_ = make_decoder(root.value("decoder", json()));
    post_processor_ = root.value("post_processor", json());
    read_added_tokens(root.value("added_tokens", json::array()));
  } catch (const json::exception& e) {
    throw Error(std::string("has a field of the wrong shape (") + e.what() + ")");
  }
  vocab_size_ = model_->max_id() + 1;
  for (const auto& t : added_) vocab_size_ = std::max(vocab_size_, t.id + 1);
}

TokenizerJson::~TokenizerJson() = default;

// Ids as tokenizers assigns them when it loads the file: a content already known keeps its
// id (added tokens first, then the model's vocabulary), a new one takes the next free id.
void TokenizerJson::read_added_tokens(const json& list) {
  std::int32_t next_id = static_cast<std::int32_t>(model_->size());
  std::vector<AddedToken> by_id;  // the last token given each id wins
  std::unordered_map<std::string, std::int32_t> content_to_id;
  for (const auto& entry : list) {
    AddedToken t;
    t.content = entry.at("content").get<std::string>();
    t.single_word = entry.value("single_word", false);
    t.lstrip = entry.value("lstrip", false);
    t.rstrip = entry.value("rstrip", false);
    t.normalized = entry.value("normalized", true);
    t.special = entry.value("special", false);
    if (t.content.empty()) continue;
    auto known = content_to_id.find(t.content);
    if (known != content_to_id.end()) {
      t.id = known->second;
    } else if (auto id = model_->token_to_id(t.content)) {
      t.id = *id;
    } else {
      t.id = next_id++;
    }
    t.pattern = t.content;
    if (t.normalized && normalizer_) normalizer_->apply(t.pattern);
    content_to_id[t.content] = t.id;
    if (t.special) special_contents_.insert(t.content);
    auto same_id = std::find_if(by_id.begin(), by_id.end(), [&](const AddedToken& o) { return o.id == t.id; });
    if (same_id != by_id.end())
      *same_id = t;
    else
      by_id.push_back(t);
  }
  by_id.erase(std::remove_if(by_id.begin(), by_id.end(), [](const AddedToken& t) { return t.pattern.empty(); }),
              by_id.end());
  added_ = std::move(by_id);
  for (std::size_t i = 0; i < added_.size(); ++i) {
    added_by_id_[added_[i].id] = i;
    added_by_content_[added_[i].content] = i;
  }
  raw_matcher_.build(added_, false);
  normalized_matcher_.build(added_, true);
}

std::optional<std::int32_t> TokenizerJson::token_to_id(std::string_view token) const {
  if (auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end()) return added_[it->second].id;
  return model_->token_to_id(token);
}

std::vector<std::int32_t> TokenizerJson::encode(std::string_view text) const {
  std::vector<std::int32_t> out;
  out.reserve(text.size() / 3 + 1);
  if (raw_matcher_.empty()) {
    encode_plain(text, true, out);
    return out;
  }
  for (const auto& seg : raw_matcher_.split(text, added_)) {
    if (seg.id >= 0)
      out.push_back(seg.id);
    else
      encode_plain(text.substr(seg.start, seg.end - seg.start), seg.start == 0, out);
  }
  return out;
}

void TokenizerJson::encode_plain(std::string_view text, bool at_origin, std::vector<std::int32_t>& out) const {
  std::string normalized(text);
  if (normalizer_) normalizer_->apply(normalized);
  if (normalized.empty()) return;
  if (normalized_matcher_.empty()) {
    encode_normalized(std::move(normalized), at_origin, out);
    return;
  }
  for (const auto& seg : normalized_matcher_.split(normalized, added_)) {
    if (seg.id >= 0)
      out.push_back(seg.id);
    else
      encode_normalized(normalized.substr(seg.start, seg.end - seg.start), at_origin && seg.start == 0, out);
  }
}

void TokenizerJson::encode_normalized(std::string&& text, bool at_origin, std::vector<std::int32_t>& out) const {
  if (!pre_tokenizer_) {
    model_->tokenize(text, out);
    return;
  }
  std::vector<Piece> words;
  pre_tokenizer_->split(Piece{std::move(text), at_origin}, words);
  for (const auto& w : words) model_->tokenize(w.text, out);
}

std::string TokenizerJson::decode(const std::vector<std::int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (auto id : ids) {
    if (id < 0 || id >= vocab_size_)
      throw Error("tokenizer decode: id " + std::to_string(id) + " is outside the vocabulary (size " +
                  std::to_string(vocab_size_) + ")");
    // tokenizers decodes a normalized added token in its normalized form.
    auto added = added_by_id_.find(id);
    const std::string* token = added != added_by_id_.end() ? &added_[added->second].pattern : model_->id_to_token(id);
    if (!token) continue;  // an id without a token: skipped, as tokenizers does
    if (skip_special_tokens && special_contents_.count(*token)) continue;
    tokens.push_back(*token);
  }
  if (!decoder_) {
    std::string joined;
    for (std::size_t i = 0; i < tokens.size(); ++i) joined += (i ? " " : "") + tokens[i];
    return joined;
  }
  std::string text;
  for (const auto& piece : decoder_->decode_chain(std::move(tokens))) text += piece;
  return text;
}

}  // namespace e2llm::hfjson
