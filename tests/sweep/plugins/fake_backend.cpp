// Test-only backend: no model; its numbers depend on its config and the window.
#include <cmath>

#include "e2llm/backend.hpp"
#include "e2llm/config_reader.hpp"
#include "e2llm/plugin.hpp"

namespace {

class FakeModel : public e2llm::LanguageModel {
 public:
  FakeModel(std::int64_t window, std::shared_ptr<const e2llm::Tokenizer> tok, std::string tag, double scale)
      : window_(window), tok_(std::move(tok)), tag_(std::move(tag)), scale_(scale) {}
  std::int64_t window() const override { return window_; }
  const e2llm::Tokenizer& tokenizer() const override { return *tok_; }
  std::vector<float> token_logprobs(const std::vector<std::int32_t>& ids, std::size_t from) override {
    return std::vector<float>(ids.size() - from, static_cast<float>(-scale_ * std::log(double(window_))));
  }
  std::vector<std::int32_t> generate(const std::vector<std::int32_t>&, const e2llm::GenerationOptions&) override {
    return tok_->encode("42");
  }
  nlohmann::json describe() const override { return {{"tag", tag_}, {"window", window_}, {"scale", scale_}}; }

 private:
  std::int64_t window_;
  std::shared_ptr<const e2llm::Tokenizer> tok_;
  std::string tag_;
  double scale_;
};

class FakeBackend : public e2llm::Backend {
 public:
  e2llm::BackendInfo info() const override { return {"fakebackend", "0.0.1", "test backend", trains_}; }
  void configure(const nlohmann::json& section) override {
    e2llm::ConfigReader cfg(section);
    tag_ = cfg.get<std::string>("tag", "x");
    scale_ = cfg.get<double>("scale", 1.0);
    trains_ = cfg.get<bool>("trains", false);
    cfg.finish();
  }
  nlohmann::json prepare(const e2llm::PrepareContext& ctx) override {
    tok_ = ctx.tokenizer;
    nlohmann::json record = {{"checkpoint_hash", "fake-" + tag_ + "-" + std::to_string(scale_)},
                             {"trained_tokens", trains_ ? 123456 : 0},
                             {"train_wall_s", trains_ ? 12.5 : 0.0}};
    if (trains_) record["checkpoint_path"] = (ctx.cache_dir / "model").string();
    return record;
  }
  std::unique_ptr<e2llm::LanguageModel> open(std::int64_t window) override {
    return std::make_unique<FakeModel>(window, tok_, tag_, scale_);
  }

 private:
  std::string tag_;
  double scale_ = 1;
  bool trains_ = false;
  std::shared_ptr<const e2llm::Tokenizer> tok_;
};

}  // namespace

E2LLM_PLUGIN("backend", "fakebackend", "0.0.1", FakeBackend)
