// Test-only tokenizer: one id per byte. Lets sweep tests run without a real model.
#include <fstream>
#include <functional>
#include <sstream>

#include "e2llm/error.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/tokenizer.hpp"

namespace {

class FakeTokenizer : public e2llm::Tokenizer {
 public:
  void load(const std::string& path) override {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw e2llm::Error("cannot read tokenizer model " + path);
    std::ostringstream s;
    s << in.rdbuf();
    fingerprint_ = "faketok-" + std::to_string(std::hash<std::string>()(s.str()));
    path_ = path;
  }
  void train(const e2llm::TokenizerTrainOptions&) override { throw e2llm::Error("faketok cannot train"); }
  std::vector<std::int32_t> encode(std::string_view text) const override {
    std::vector<std::int32_t> ids;
    for (unsigned char c : text) ids.push_back(c + 3);
    return ids;
  }
  std::string decode(const std::vector<std::int32_t>& ids) const override {
    std::string out;
    for (auto id : ids)
      if (id >= 3) out += static_cast<char>(id - 3);
    return out;
  }
  std::int32_t bos_id() const override { return 1; }
  std::int32_t eos_id() const override { return 2; }
  std::int32_t vocab_size() const override { return 259; }
  bool adds_bos() const override { return true; }
  bool adds_eos() const override { return false; }
  std::optional<std::int32_t> token_id(std::string_view) const override { return std::nullopt; }
  std::string chat_template() const override { return ""; }
  std::string fingerprint() const override { return fingerprint_; }
  std::string model_path() const override { return path_; }

 private:
  std::string fingerprint_, path_;
};

}  // namespace

E2LLM_PLUGIN("tokenizer", "faketok", "0.0.1", FakeTokenizer)
