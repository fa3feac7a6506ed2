// Pre-tokenizers of tokenizer.json: each one cuts a piece of normalized text into smaller
// pieces, the words the model tokenizes. The split regexes the GPT-2, Llama 3 and Qwen2
// files carry are matched by hand (no regex engine); see docs/tokenizer-json.md.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace e2llm::bpe {

struct Piece {
  std::string text;
  bool at_origin = false;  // starts at offset 0 of the original input (Metaspace "first")
};

// How a split keeps what its pattern matched (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// The regexes we match by hand, each named by the models that use it.
enum class KnownRegex { gpt2, llama3, qwen2 };

// One match of a known regex at `pos`: its end (these patterns match at every position).
std::size_t match_known_regex(KnownRegex regex, std::string_view text, std::size_t pos);

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Appends the pieces of `piece` to `out` (empty pieces are dropped, as tokenizers does).
  virtual void split(Piece&& piece, std::vector<Piece>& out) const = 0;
};

// Builds the pre-tokenizer a tokenizer.json "pre_tokenizer" value describes (null: none).
// Throws e2llm::Error naming the unsupported type or pattern and the supported ones.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec);

// The byte -> printable character map of byte-level BPE (GPT-2's bytes_to_unicode), and
// its inverse (-1 for characters that are not in it).
const std::string& byte_to_unicode(unsigned char byte);
int unicode_to_byte(char32_t cp);

}  // namespace e2llm::bpe
