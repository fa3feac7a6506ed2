// Test doubles several suites share: a byte-level tokenizer and a sample store in memory.
// No GoogleTest here, as in language_model_checks.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "e2llm/error.hpp"
#include "e2llm/task.hpp"
#include "e2llm/tokenizer.hpp"

namespace e2llm::testing {

// One token per byte: id = byte + 3; BOS = 1, EOS = 2, vocabulary 259. Decoding is exact, so
// truncation sizes are exact too.
class ByteTokenizer : public Tokenizer {
 public:
  // What decode() does with ids 0-2: skip them, or refuse them for a caller that must never
  // decode BOS or a stop token.
  enum class Specials { skip, refuse };
  explicit ByteTokenizer(Specials specials = Specials::skip) : specials_(specials) {}

  void load(const std::string&) override {}
  void train(const TokenizerTrainOptions&) override { throw Error("ByteTokenizer: training is not supported"); }
  std::vector<std::int32_t> encode(std::string_view text) const override {
    std::vector<std::int32_t> ids;
    for (unsigned char c : text) ids.push_back(std::int32_t(c) + 3);
    return ids;
  }
  std::string decode(const std::vector<std::int32_t>& ids) const override {
    std::string text;
    for (auto id : ids) {
      if (id >= 3)
        text.push_back(char(id - 3));
      else if (specials_ == Specials::refuse)
        throw Error("decode got a special token");
    }
    return text;
  }
  std::int32_t bos_id() const override { return 1; }
  std::int32_t eos_id() const override { return 2; }
  std::int32_t vocab_size() const override { return 259; }
  bool adds_bos() const override { return true; }
  bool adds_eos() const override { return false; }
  std::optional<std::int32_t> token_id(std::string_view) const override { return std::nullopt; }
  std::string chat_template() const override { return ""; }
  std::string fingerprint() const override { return "byte-tokenizer"; }
  std::string model_path() const override { return "(bytes)"; }

 private:
  Specials specials_;
};

class MemoryStore final : public SampleStore {
 public:
  std::optional<nlohmann::json> find(const std::string& id) override {
    auto it = rows.find(id);
    if (it == rows.end()) return std::nullopt;
    return it->second;
  }
  void put(const std::string& id, const nlohmann::json& record) override { rows[id] = record; }
  std::map<std::string, nlohmann::json> rows;  // sample id -> record
};

}  // namespace e2llm::testing
