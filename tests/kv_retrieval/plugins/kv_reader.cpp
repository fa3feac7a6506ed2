// Test-only backend "kvreader" for the kv-retrieval sweep test: its model reads the key-value
// prompt (docs/protocols.md §Key-value retrieval) and answers the asked key's value, except
// when the asked pair is neither the first nor the last of the object (`miss_middle`), where it
// answers the value of the pair before it. So a sweep with depths 0, 0.5 and 1 has a known
// score: right at depths 0 and 1, wrong at 0.5. Log-probabilities are uniform (a distribution);
// it keeps the LanguageModel contract (tests/support/language_model_checks.hpp).
#include <algorithm>
#include <cmath>
#include <regex>

#include "../../support/language_model_checks.hpp"
#include "e2llm/backend.hpp"
#include "e2llm/config_reader.hpp"
#include "e2llm/plugin.hpp"

namespace {

class ReaderModel : public e2llm::LanguageModel {
 public:
  ReaderModel(std::int64_t window, std::shared_ptr<const e2llm::Tokenizer> tok, bool miss_middle)
      : window_(window), tok_(std::move(tok)), miss_middle_(miss_middle) {}
  std::int64_t window() const override { return window_; }
  const e2llm::Tokenizer& tokenizer() const override { return *tok_; }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t from) override {
    e2llm::testing::check_token_logprobs_args(window_, tok_->vocab_size(), ids, from);
    if (from >= ids.size()) return {};
    return std::vector<float>(ids.size() - from, -static_cast<float>(std::log(double(tok_->vocab_size()))));
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt,
                                     const e2llm::GenerationOptions& options) override {
    e2llm::testing::check_generate_args(window_, tok_->vocab_size(), prompt, options);
    const std::string text = tok_->decode(prompt);
    static const std::regex pair(R"re("([0-9a-f]+)": "([0-9a-f]+)")re"), asked(R"re(Key: "([0-9a-f]+)"\s*Value:)re");
    std::vector<std::pair<std::string, std::string>> pairs;
    for (std::sregex_iterator it(text.begin(), text.end(), pair), end; it != end; ++it)
      pairs.emplace_back((*it)[1].str(), (*it)[2].str());
    std::smatch m;
    std::string answer = " \"none\"";
    if (std::regex_search(text, m, asked)) {
      for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (pairs[i].first != m[1].str()) continue;
        const bool middle = i > 0 && i + 1 < pairs.size();
        answer = " \"" + pairs[miss_middle_ && middle ? i - 1 : i].second + "\"";
      }
    }
    std::vector<std::int32_t> out = tok_->encode(answer);
    // The answer, then the end of text when it may stop there; otherwise more text, as a model
    // goes on until max_new_tokens.
    const bool stops = std::count(options.stop_tokens.begin(), options.stop_tokens.end(), tok_->eos_id()) > 0;
    while (!stops && out.size() < std::size_t(options.max_new_tokens)) {
      const auto more = tok_->encode(" and");
      out.insert(out.end(), more.begin(), more.end());
    }
    out.resize(std::min(out.size(), std::size_t(options.max_new_tokens)));
    return out;
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<e2llm::GenerationRequest>& requests,
                                                        const e2llm::GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, window_, tok_->vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 4; }
  nlohmann::json describe() const override { return {{"model", "kvreader"}, {"window", window_}}; }

 private:
  std::int64_t window_;
  std::shared_ptr<const e2llm::Tokenizer> tok_;
  bool miss_middle_;
};

class ReaderBackend : public e2llm::Backend {
 public:
  e2llm::BackendInfo info() const override { return {"kvreader", "0.0.1", "test backend: reads the kv prompt", false}; }
  void configure(const nlohmann::json& section) override {
    e2llm::ConfigReader cfg(section);
    miss_middle_ = cfg.get<bool>("miss_middle", true);
    cfg.finish();
  }
  nlohmann::json prepare(const e2llm::PrepareContext& ctx) override {
    tok_ = ctx.tokenizer;
    return {{"checkpoint_hash", std::string("kvreader-") + (miss_middle_ ? "miss" : "all")}, {"trained_tokens", 0}};
  }
  std::unique_ptr<e2llm::LanguageModel> open(std::int64_t window) override {
    return std::make_unique<ReaderModel>(window, tok_, miss_middle_);
  }

 private:
  bool miss_middle_ = true;
  std::shared_ptr<const e2llm::Tokenizer> tok_;
};

}  // namespace

E2LLM_PLUGIN("backend", "kvreader", "0.0.1", ReaderBackend)
