// Generation (greedy reproduces stories260K's published sample; cache == recomputation;
// seeded sampling) and the RoPE-scaling backend plugins loaded as the harness loads them.
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>

#include "e2llm/backend.hpp"
#include "e2llm/error.hpp"
#include "e2llm/llama/checkpoint.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"
#include "e2llm/plugin.hpp"

using namespace e2llm::llama;
namespace fs = std::filesystem;

namespace {

const fs::path kStories = fs::path(E2LLM_SHARED_DATA) / "models" / "stories260K.gguf";

std::shared_ptr<LlamaModel> stories_model() {
  static auto m = load_model(load_checkpoint(kStories));
  return m;
}

// SentencePiece-style decoding with the GGUF's embedded vocabulary: "▁" is a space,
// <0xNN> is a byte; the leading space of the first piece is dropped.
std::string decode(const Vocabulary& vocab, const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) {
    const std::string& piece = vocab.tokens.at(id);
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece.back() == '>') {
      out += static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16));
      continue;
    }
    for (size_t i = 0; i < piece.size();) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
        out += ' ';
        i += 3;
      } else {
        out += piece[i++];
      }
    }
  }
  if (!out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

// Greedy decoding without a cache: a full forward over the whole sequence at every step.
std::vector<int32_t> greedy_by_recomputation(LlamaModel& m, std::vector<int32_t> seq, const RopeFrequencies& f,
                                             int n) {
  torch::NoGradGuard ng;
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int64_t> ids(seq.begin(), seq.end());
    auto t = torch::tensor(ids).unsqueeze(0);
    auto logits = m.forward(t, RopeInputs::make(f, 1, t.size(1)));
    const auto next = static_cast<int32_t>(logits[0][-1].argmax().item<int64_t>());
    out.push_back(next);
    seq.push_back(next);
  }
  return out;
}

}  // namespace

TEST(Generation, Stories260KGreedyFromBosReproducesThePublishedSample) {
  auto model = stories_model();
  ASSERT_TRUE(model->vocab.has_value());
  const auto& vocab = *model->vocab;
  TorchLanguageModel lm(model, model->config().rope, 512, nullptr);
  e2llm::GenerationOptions opt;
  opt.max_new_tokens = 256;
  opt.stop_tokens = {vocab.bos, vocab.eos};
  auto ids = lm.generate({vocab.bos}, opt);
  const std::string text = decode(vocab, ids);
  const std::string expected =
      "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw "
      "a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the "
      "park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find "
      "it.\"";
  EXPECT_EQ(text.substr(0, expected.size()), expected) << text;
}

TEST(Generation, CachedGreedyEqualsRecomputation) {
  auto model = stories_model();
  RopeConfig pi = model->config().rope;
  pi.type = RopeType::Linear;
  pi.factor = 2.0;
  for (const RopeConfig& rope : {model->config().rope, pi}) {
    auto f = compute_rope(rope, 0);
    e2llm::GenerationOptions opt;
    opt.max_new_tokens = 24;
    std::vector<int32_t> prompt = {1, 403, 261, 378, 11};
    EXPECT_EQ(generate_tokens(*model, prompt, f, opt), greedy_by_recomputation(*model, prompt, f, 24))
        << rope_type_name(rope.type);
  }
}

TEST(Generation, DynamicNtkFixesTheBaseFromTheFinalLength) {
  auto model = stories_model();
  RopeConfig dyn = model->config().rope;
  dyn.type = RopeType::DynamicNtk;
  dyn.factor = 2.0;
  dyn.original_max_position = 512;  // trained at 512 (the GGUF's context_length says 2048)
  TorchLanguageModel lm(model, dyn, 1024, nullptr);
  std::vector<int32_t> prompt(600);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 1 + static_cast<int32_t>((i * 53) % 500);
  e2llm::GenerationOptions opt;
  opt.max_new_tokens = 6;
  auto got = lm.generate(prompt, opt);
  // Every step, cached or not, uses the base for n = 606: the recomputation agrees.
  auto f = compute_rope(dyn, 606);
  EXPECT_EQ(got, greedy_by_recomputation(*model, prompt, f, 6));
  EXPECT_NE(f.inv_freq, compute_rope(dyn, 0).inv_freq);
  EXPECT_TRUE(lm.describe().contains("dynamic_ntk_policy"));
}

TEST(Generation, SamplingIsSeededAndTopPNarrowsToGreedy) {
  auto model = stories_model();
  TorchLanguageModel lm(model, model->config().rope, 512, nullptr);
  e2llm::GenerationOptions opt;
  opt.max_new_tokens = 40;
  opt.temperature = 1.0;
  opt.seed = 7;
  auto a = lm.generate({1}, opt), b = lm.generate({1}, opt);
  EXPECT_EQ(a, b);
  opt.seed = 8;
  EXPECT_NE(lm.generate({1}, opt), a);
  opt.top_p = 1e-9;  // only the most likely token survives
  e2llm::GenerationOptions greedy;
  greedy.max_new_tokens = 40;
  EXPECT_EQ(lm.generate({1}, opt), lm.generate({1}, greedy));
  opt.max_new_tokens = 600;
  EXPECT_THROW(lm.generate({1}, opt), e2llm::Error);
}

// ---- backend plugins ------------------------------------------------------------------------

namespace {

struct LoadedBackend {
  boost::dll::shared_library lib;
  std::unique_ptr<e2llm::Backend> backend;
};

LoadedBackend load_backend(const std::string& file) {
  LoadedBackend out;
  out.lib.load(std::string(E2LLM_PLUGIN_DIR) + "/" + file, boost::dll::load_mode::rtld_local);
  auto entry = out.lib.get<const e2llm::PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME);
  const auto* d = entry();
  EXPECT_EQ(d->abi_version, e2llm::kAbiVersion);
  EXPECT_STREQ(d->kind, "backend");
  out.backend.reset(dynamic_cast<e2llm::Backend*>(d->create()));
  return out;
}

}  // namespace

TEST(BackendPlugins, OpenServesTheConfiguredRope) {
  struct Case {
    const char* file;
    const char* name;
    const char* rope_type;
  };
  const std::vector<Case> cases = {{"libe2llm_backend_none.so", "none", "default"},
                                   {"libe2llm_backend_pi.so", "pi", "linear"},
                                   {"libe2llm_backend_ntk.so", "ntk", "ntk"},
                                   {"libe2llm_backend_dynamic_ntk.so", "dynamic-ntk", "dynamic"},
                                   {"libe2llm_backend_yarn.so", "yarn", "yarn"}};
  e2llm::PrepareContext ctx;
  ctx.base_model = {{"path", kStories.string()}, {"format", "gguf"}, {"original_window", 512}};
  for (const auto& c : cases) {
    auto p = load_backend(c.file);
    ASSERT_TRUE(p.backend) << c.file;
    EXPECT_EQ(p.backend->info().name, c.name);
    p.backend->configure({{"threads", 1}, {"block_size", 64}});
    auto record = p.backend->prepare(ctx);
    EXPECT_EQ(record.at("trained_tokens"), 0);
    EXPECT_EQ(record.at("checkpoint_hash").get<std::string>().size(), 64u);
    auto small = p.backend->open(512);
    EXPECT_DOUBLE_EQ(small->describe().at("g").get<double>(), 1.0) << c.name;
    auto big = p.backend->open(1500);  // g = ceil(1500 / 512) = 3
    auto d = big->describe();
    EXPECT_EQ(big->window(), 1500);
    EXPECT_DOUBLE_EQ(d.at("g").get<double>(), 3.0) << c.name;
    EXPECT_EQ(d.at("rope").dump().find(c.rope_type) != std::string::npos, true) << d.dump();
    std::vector<int32_t> ids(40, 17);
    ids[0] = 1;
    EXPECT_EQ(big->token_logprobs(ids, 1).size(), 39u);
    big.reset();
    small.reset();
    p.backend.reset();
  }
}

TEST(BackendPlugins, ConfigErrorsNameTheField) {
  auto p = load_backend("libe2llm_backend_pi.so");
  try {
    p.backend->configure({{"factor_rle", "exact"}});
    FAIL() << "expected a ConfigError";
  } catch (const e2llm::ConfigError& e) {
    EXPECT_EQ(e.field(), "factor_rle");
    EXPECT_NE(std::string(e.what()).find("factor_rule"), std::string::npos) << e.what();
  }
  EXPECT_THROW(p.backend->configure({{"factor_rule", "round"}}), e2llm::ConfigError);
  p.backend->configure({{"factor_rule", "exact"}, {"threads", 1}});
  e2llm::PrepareContext ctx;
  ctx.base_model = {{"path", kStories.string()}, {"original_window", 512}};
  p.backend->prepare(ctx);
  EXPECT_DOUBLE_EQ(p.backend->open(1024 + 256)->describe().at("g").get<double>(), 2.5);
  p.backend.reset();
}
