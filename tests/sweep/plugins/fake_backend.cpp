// Test-only backend: no model; its numbers depend on its config and the window.
//
// Keys: tag (a name the fake model reports), scale (log p of every token is
// -scale * log(window), so perplexity = window^scale), trains (pretend to train),
// recall_tokens (generate() answers with the first number in the last N prompt tokens, else
// "42"; 0 = always "42"). A backend that trains with a sweep's training seed S "trains"
// once per seed: it appends "<tag> <S>" to <cache>/trainings.txt, and its scale becomes
// scale * (1 + S / 100), so that seeds differ.
#include <cmath>
#include <filesystem>
#include <fstream>

#include "../../support/language_model_checks.hpp"
#include "e2llm/backend.hpp"
#include "e2llm/config_reader.hpp"
#include "e2llm/plugin.hpp"

namespace {

class FakeModel : public e2llm::LanguageModel {
 public:
  FakeModel(std::int64_t window, std::shared_ptr<const e2llm::Tokenizer> tok, std::string tag, double scale,
            std::int64_t recall_tokens)
      : window_(window), tok_(std::move(tok)), tag_(std::move(tag)), scale_(scale), recall_tokens_(recall_tokens) {}
  std::int64_t window() const override { return window_; }
  const e2llm::Tokenizer& tokenizer() const override { return *tok_; }
  // Keeps the contract as strictly as the LibTorch model does (tests/support/language_model_checks.hpp).
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t from) override {
    e2llm::testing::check_token_logprobs_args(window_, tok_->vocab_size(), ids, from);
    if (from >= ids.size()) return {};
    return std::vector<float>(ids.size() - from, static_cast<float>(-scale_ * std::log(double(window_))));
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>& prompt,
                                     const e2llm::GenerationOptions& options) override {
    e2llm::testing::check_generate_args(window_, tok_->vocab_size(), prompt, options);
    std::vector<std::int32_t> out = tok_->encode("42");
    if (recall_tokens_ > 0) {
      std::size_t keep = std::min(prompt.size(), std::size_t(recall_tokens_));
      std::string tail = tok_->decode({prompt.end() - std::ptrdiff_t(keep), prompt.end()});
      std::size_t start = tail.find_first_of("0123456789");
      if (start != std::string::npos)
        out = tok_->encode(tail.substr(start, tail.find_first_not_of("0123456789", start) - start));
    }
    // With no stop token to end on, a model goes on to max_new_tokens (the contract).
    while (options.stop_tokens.empty() && out.size() < std::size_t(options.max_new_tokens) && !out.empty())
      out.push_back(out.back());
    out.resize(std::min(out.size(), std::size_t(options.max_new_tokens)));
    return out;
  }
  std::vector<std::vector<std::int32_t>> generate_batch(const std::vector<e2llm::GenerationRequest>& requests,
                                                        const e2llm::GenerationDone& done) override {
    return e2llm::testing::generate_each(*this, window_, tok_->vocab_size(), requests, done);
  }
  std::int64_t batch_size() const override { return 3; }
  nlohmann::json describe() const override { return {{"tag", tag_}, {"window", window_}, {"scale", scale_}}; }

 private:
  std::int64_t window_;
  std::shared_ptr<const e2llm::Tokenizer> tok_;
  std::string tag_;
  double scale_;
  std::int64_t recall_tokens_;
};

class FakeBackend : public e2llm::Backend {
 public:
  e2llm::BackendInfo info() const override { return {"fakebackend", "0.0.1", "test backend", trains_}; }
  void configure(const nlohmann::json& section) override {
    e2llm::ConfigReader cfg(section);
    tag_ = cfg.get<std::string>("tag", "x");
    scale_ = served_scale_ = cfg.get<double>("scale", 1.0);
    trains_ = cfg.get<bool>("trains", false);
    recall_tokens_ = cfg.get<std::int64_t>("recall_tokens", 0);
    cfg.finish();
  }
  nlohmann::json prepare(const e2llm::PrepareContext& ctx) override {
    tok_ = ctx.tokenizer;
    if (trains_ && ctx.training_seed) {
      served_scale_ = scale_ * (1.0 + double(*ctx.training_seed) / 100.0);
      std::filesystem::create_directories(ctx.cache_dir);
      std::ofstream(ctx.cache_dir / "trainings.txt", std::ios::app) << tag_ << " " << *ctx.training_seed << "\n";
    }
    nlohmann::json record = {{"checkpoint_hash", "fake-" + tag_ + "-" + std::to_string(served_scale_)},
                             {"trained_tokens", trains_ ? 123456 : 0},
                             {"train_wall_s", trains_ ? 12.5 : 0.0}};
    if (trains_) record["checkpoint_path"] = (ctx.cache_dir / "model").string();
    return record;
  }
  std::unique_ptr<e2llm::LanguageModel> open(std::int64_t window) override {
    return std::make_unique<FakeModel>(window, tok_, tag_, served_scale_, recall_tokens_);
  }

 private:
  std::string tag_;
  double scale_ = 1, served_scale_ = 1;
  bool trains_ = false;
  std::int64_t recall_tokens_ = 0;
  std::shared_ptr<const e2llm::Tokenizer> tok_;
};

}  // namespace

E2LLM_PLUGIN("backend", "fakebackend", "0.0.1", FakeBackend)
