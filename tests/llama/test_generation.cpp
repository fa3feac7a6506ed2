// Generation (greedy reproduces stories260K's published sample; cache == recomputation;
// seeded sampling) and the RoPE-scaling backend plugins loaded as the harness loads them.
#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "../support/fakes.hpp"
#include "../support/language_model_conformance.hpp"
#include "e2llm/backend.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"
#include "e2llm/plugin.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;
namespace fs = std::filesystem;

namespace {

const fs::path kStories = fs::path(E2LLM_SHARED_DATA) / "models" / "stories260K.gguf";

std::shared_ptr<LlamaModel> stories_model() {
  static auto m = load_model(formats::load_checkpoint(kStories));
  return m;
}

// SentencePiece-style decoding with the GGUF's embedded vocabulary: "▁" is a space,
// <0xNN> is a byte; the leading space of the first piece is dropped.
std::string decode(const formats::Vocabulary& vocab, const std::vector<int32_t>& ids) {
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

// The GGUF's own vocabulary as a Tokenizer (ids and decoding; the suite needs no encoding).
class GgufVocabTokenizer final : public e2llm::Tokenizer {
 public:
  explicit GgufVocabTokenizer(formats::Vocabulary vocab) : vocab_(std::move(vocab)) {}
  void load(const std::string&) override {}
  void train(const e2llm::TokenizerTrainOptions&) override {}
  std::vector<std::int32_t> encode(std::string_view) const override { throw e2llm::Error("not needed here"); }
  std::string decode(const std::vector<std::int32_t>& ids) const override { return ::decode(vocab_, ids); }
  std::int32_t bos_id() const override { return vocab_.bos; }
  std::int32_t eos_id() const override { return vocab_.eos; }
  std::int32_t vocab_size() const override { return std::int32_t(vocab_.tokens.size()); }
  bool adds_bos() const override { return true; }
  bool adds_eos() const override { return false; }
  std::optional<std::int32_t> token_id(std::string_view) const override { return std::nullopt; }
  std::string chat_template() const override { return ""; }
  std::string fingerprint() const override { return "gguf-vocab"; }
  std::string model_path() const override { return ""; }

 private:
  formats::Vocabulary vocab_;
};

// Greedy decoding without a cache: a full forward over the whole sequence at every step.
std::vector<int32_t> greedy_by_recomputation(LlamaModel& m, std::vector<int32_t> seq, const formats::RopeFrequencies& f,
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
  formats::RopeConfig pi = model->config().rope;
  pi.type = formats::RopeType::Linear;
  pi.factor = 2.0;
  for (const formats::RopeConfig& rope : {model->config().rope, pi}) {
    auto f = formats::compute_rope(rope, 0);
    e2llm::GenerationOptions opt;
    opt.max_new_tokens = 24;
    std::vector<int32_t> prompt = {1, 403, 261, 378, 11};
    EXPECT_EQ(generate_tokens(*model, prompt, f, opt), greedy_by_recomputation(*model, prompt, f, 24))
        << formats::rope_type_name(rope.type);
  }
}

TEST(Generation, DynamicNtkFixesTheBaseFromTheFinalLength) {
  auto model = stories_model();
  formats::RopeConfig dyn = model->config().rope;
  dyn.type = formats::RopeType::DynamicNtk;
  dyn.factor = 2.0;
  dyn.original_max_position = 512;  // trained at 512 (the GGUF's context_length says 2048)
  TorchLanguageModel lm(model, dyn, 1024, nullptr);
  std::vector<int32_t> prompt(600);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 1 + static_cast<int32_t>((i * 53) % 500);
  e2llm::GenerationOptions opt;
  opt.max_new_tokens = 6;
  auto got = lm.generate(prompt, opt);
  // Every step, cached or not, uses the base for n = 606: the recomputation agrees.
  auto f = formats::compute_rope(dyn, 606);
  EXPECT_EQ(got, greedy_by_recomputation(*model, prompt, f, 6));
  EXPECT_NE(f.inv_freq, formats::compute_rope(dyn, 0).inv_freq);
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
                                   {"libe2llm_backend_yarn.so", "yarn", "yarn"},
                                   {"libe2llm_backend_llama3.so", "llama3", "llama3"},
                                   {"libe2llm_backend_longrope.so", "longrope", "longrope"}};
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
    auto big = p.backend->open(1500);  // s = ceil(1500 / 512) = 3; none serves plain RoPE (s = 1)
    auto d = big->describe();
    EXPECT_EQ(big->window(), 1500);
    EXPECT_DOUBLE_EQ(d.at("g").get<double>(), std::string(c.name) == "none" ? 1.0 : 3.0) << c.name;
    EXPECT_EQ(d.at("rope").at("type"), c.rope_type) << d.dump();  // exactly: "dynamic" must not pass for "ntk"
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

// ---- backends checked by value ------------------------------------------------------------
// Each backend's log-probabilities against a forward built from RoPE frequencies written
// here, independently of rope_scaling.cpp, from the published formulas (docs/methods.md
// §Baselines): stories260K (d = 8, b = 10000, L = 512) at W = 1500 (s = ceil(W / L) = 3).

namespace {

struct RefRope {
  std::vector<double> inv_freq;
  double factor = 1.0;  // multiplies cos and sin
};

RefRope reference_rope(const std::string& type, double s, int64_t n) {
  const double d = 8, b = 10000, L = 512, pi = 3.14159265358979323846;
  auto inv = [&](double base) {
    std::vector<double> v;
    for (int j = 0; j < 4; ++j) v.push_back(1.0 / std::pow(base, 2.0 * j / d));
    return v;
  };
  RefRope r;
  if (type == "none") r.inv_freq = inv(b);
  if (type == "pi") {
    r.inv_freq = inv(b);
    for (double& f : r.inv_freq) f /= s;
  }
  if (type == "ntk") r.inv_freq = inv(b * std::pow(s, d / (d - 2)));
  if (type == "dynamic-ntk") r.inv_freq = inv(n > L ? b * std::pow(s * n / L - (s - 1), d / (d - 2)) : b);
  if (type == "yarn") {
    auto dim = [&](double rot) { return d * std::log(L / (rot * 2 * pi)) / (2 * std::log(b)); };
    double low = std::max(std::floor(dim(32.0)), 0.0), high = std::min(std::ceil(dim(1.0)), d - 1);
    if (low == high) high += 0.001;
    const auto base = inv(b);
    for (int i = 0; i < 4; ++i) {
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      r.inv_freq.push_back(base[i] / s * ramp + base[i] * (1 - ramp));
    }
    r.factor = 0.1 * std::log(s) + 1.0;
  }
  if (type == "llama3") {  // Llama 3.1: low_freq_factor 1, high_freq_factor 4
    for (double f : inv(b)) {
      const double wavelen = 2 * pi / f;
      if (wavelen < L / 4) {
        r.inv_freq.push_back(f);
      } else if (wavelen > L) {
        r.inv_freq.push_back(f / s);
      } else {
        const double smooth = (L / wavelen - 1) / 3;
        r.inv_freq.push_back((1 - smooth) * f / s + smooth * f);
      }
    }
  }
  if (type == "longrope") {  // the backend's default long factors: YaRN's divisors, beyond L
    r.inv_freq = n > L ? reference_rope("yarn", s, n).inv_freq : inv(b);
    r.factor = std::sqrt(1 + std::log(s) / std::log(L));
  }
  return r;
}

// log p(ids[i] | ids[<i]) for i >= 1 from one forward with explicit positions / scale.
std::vector<float> reference_logprobs(LlamaModel& m, const std::vector<int32_t>& ids, const RefRope& rope,
                                      double position_scale = 1.0) {
  torch::NoGradGuard ng;
  const int64_t T = static_cast<int64_t>(ids.size());
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  auto t = torch::tensor(ids64).unsqueeze(0);
  RopeInputs in{(torch::arange(T, torch::kFloat64) / position_scale).unsqueeze(0), torch::tensor(rope.inv_freq), rope.factor};
  auto logp = torch::log_softmax(m.forward(t, in)[0].to(torch::kFloat64), -1);
  std::vector<float> out;
  for (int64_t i = 1; i < T; ++i) out.push_back(static_cast<float>(logp[i - 1][ids64[i]].item<double>()));
  return out;
}

std::vector<int32_t> random_story_ids(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids{1};
  while (static_cast<int64_t>(ids.size()) < n) ids.push_back(static_cast<int32_t>(3 + rng() % 509));
  return ids;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return worst;
}

}  // namespace

TEST(BackendsByValue, LogprobsEqualAnIndependentlyWrittenRope) {
  e2llm::PrepareContext ctx;
  ctx.base_model = {{"path", kStories.string()}, {"format", "gguf"}, {"original_window", 512}};
  const auto ids = random_story_ids(1200, 11);
  for (const std::string name : {"none", "pi", "ntk", "dynamic-ntk", "yarn", "llama3", "longrope"}) {
    std::string file = "libe2llm_backend_" + name + ".so";
    std::replace(file.begin(), file.end(), '-', '_');
    auto p = load_backend(file);
    p.backend->configure({{"threads", 2}});
    p.backend->prepare(ctx);
    auto lm = p.backend->open(1500);
    const auto got = lm->token_logprobs(ids, 1);
    const auto want = reference_logprobs(*stories_model(), ids, reference_rope(name, 3.0, 1200));
    EXPECT_LT(max_abs_diff(got, want), 2e-4) << name;
    if (name != "none") {  // and the scaling is not a no-op: plain RoPE gives other numbers
      const auto plain = reference_logprobs(*stories_model(), ids, reference_rope("none", 1.0, 1200));
      EXPECT_GT(max_abs_diff(got, plain), 1e-2) << name;
    }
    lm.reset();
    p.backend.reset();
  }
}

TEST(BackendsByValue, LinearScalingIsDefaultRopeAtPositionsOverS) {
  const auto ids = random_story_ids(900, 12);
  for (double s : {2.0, 3.5}) {
    const auto by_freq = reference_logprobs(*stories_model(), ids, reference_rope("pi", s, 900));
    const auto by_pos = reference_logprobs(*stories_model(), ids, reference_rope("none", 1.0, 900), s);
    EXPECT_LT(max_abs_diff(by_freq, by_pos), 1e-4) << "s = " << s;  // fp32 rounding of cos/sin, 5 layers deep
  }
}

// Cached generation (prefill + one token at a time through the KV cache) equals a full
// recomputation at every step, for the RoPE types whose frequencies depend on the length or
// carry an attention factor.
TEST(BackendsByValue, YarnAndDynamicNtkCachedGenerationEqualsRecomputation) {
  auto model = stories_model();
  for (formats::RopeType type : {formats::RopeType::Yarn, formats::RopeType::DynamicNtk}) {
    formats::RopeConfig rope = model->config().rope;
    rope.type = type;
    rope.factor = 4.0;
    rope.original_max_position = 64;  // short L so the prompt and generation run past it
    const auto prompt = random_story_ids(90, 13);
    e2llm::GenerationOptions opt;
    opt.max_new_tokens = 30;
    TorchLanguageModel lm(model, rope, 256, nullptr);
    const auto f = formats::compute_rope(rope, static_cast<int64_t>(prompt.size()) + 30);  // dynamic: the final length
    EXPECT_EQ(lm.generate(prompt, opt), greedy_by_recomputation(*model, prompt, f, 30)) << formats::rope_type_name(type);
  }
}

// E²-LLM serves window W with t = 0 and g = W / L: the fine-tuned weights opened at W must
// equal a forward of the same weights at positions m / g with plain RoPE frequencies.
TEST(BackendsByValue, E2llmServedAtWEqualsLinearScalingByWOverL) {
  const fs::path dir = fs::temp_directory_path() / ("e2llm-byvalue-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream corpus(dir / "corpus.jsonl");
    for (int i = 0; i < 40; ++i)
      corpus << "{\"text\": \"Once upon a time there was a little robot number " << i
             << " who liked to count the stars over the quiet sea, one by one, every night.\"}\n";
  }
  auto p = load_backend("libe2llm_backend_e2llm.so");
  p.backend->configure({{"corpus", (dir / "corpus.jsonl").string()}, {"steps", 3}, {"batch", 2}, {"seq_len", 64},
                        {"gmax", 4}, {"lr", 1e-3}, {"threads", 2}, {"check_blas", false}, {"log_every", 100}});
  e2llm::PrepareContext ctx;
  ctx.base_model = {{"path", kStories.string()}, {"format", "gguf"}, {"original_window", 512}};
  ctx.tokenizer = std::make_shared<e2llm::testing::ByteTokenizer>();
  ctx.cache_dir = dir / "cache";
  const auto record = p.backend->prepare(ctx);
  auto tuned = load_model(formats::load_checkpoint(record.at("checkpoint_path").get<std::string>()));
  EXPECT_NE(tuned->fingerprint, stories_model()->fingerprint);
  const auto ids = random_story_ids(1000, 14);
  const auto at_w = p.backend->open(1024)->token_logprobs(ids, 1);  // g = 1024 / 512 = 2
  EXPECT_LT(max_abs_diff(at_w, reference_logprobs(*tuned, ids, reference_rope("none", 1, 1000), 2.0)), 2e-4);
  const auto at_l = p.backend->open(512)->token_logprobs(std::vector<int32_t>(ids.begin(), ids.begin() + 500), 1);
  EXPECT_LT(max_abs_diff(at_l, reference_logprobs(*tuned, std::vector<int32_t>(ids.begin(), ids.begin() + 500),
                                                  reference_rope("none", 1, 500))),
            2e-4);
  p.backend.reset();
  fs::remove_all(dir);
}

// The LanguageModel contract on the LibTorch model itself (the suite every test double
// passes too): plain RoPE, PI and Self-Extend, with the stories260K vocabulary's stop tokens.
TEST(Generation, TorchLanguageModelKeepsTheLanguageModelContract) {
  auto model = stories_model();
  ASSERT_TRUE(model->vocab.has_value());
  auto tokenizer = std::make_shared<GgufVocabTokenizer>(*model->vocab);
  formats::RopeConfig pi = model->config().rope;
  pi.type = formats::RopeType::Linear;
  pi.factor = 2.0;
  for (const formats::RopeConfig& rope : {model->config().rope, pi}) {
    SCOPED_TRACE(formats::rope_type_name(rope.type));
    TorchLanguageModel lm(model, rope, 64, tokenizer);
    e2llm::GenerationOptions options;
    options.stop_tokens = {tokenizer->bos_id(), tokenizer->eos_id()};
    e2llm::testing::expect_language_model_contract(lm, {}, options);
    e2llm::testing::expect_next_token_distribution(lm, {tokenizer->bos_id(), 300, 301, 302});
  }
  // Self-Extend's grouped attention (generate_batch runs it one request at a time).
  TorchLanguageModel se(model, model->config().rope, 64, tokenizer, nlohmann::json::object(), SelfExtendOptions{2, 16});
  EXPECT_EQ(se.batch_size(), 1);
  e2llm::GenerationOptions options;
  options.stop_tokens = {tokenizer->bos_id(), tokenizer->eos_id()};
  e2llm::testing::expect_language_model_contract(se, {}, options);
}

// PoSE (docs/methods.md §PoSE) trains once toward L_t and serves every window with PI at the
// trained s = L_t / L: the fine-tuned weights opened at any W equal a forward of the same
// weights at positions m / s; its config.json says linear s, max_position_embeddings L_t.
TEST(BackendsByValue, PoseServesEveryWindowWithItsTrainedScale) {
  const fs::path dir = fs::temp_directory_path() / ("e2llm-pose-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream corpus(dir / "corpus.jsonl");
    for (int i = 0; i < 40; ++i)
      corpus << "{\"text\": \"Once upon a time there was a little robot number " << i
             << " who liked to count the stars over the quiet sea, one by one, every night.\"}\n";
  }
  auto p = load_backend("libe2llm_backend_pose.so");
  EXPECT_THROW(p.backend->configure({{"corpus", (dir / "corpus.jsonl").string()}, {"target_window", -1}}),
               e2llm::ConfigError);
  p.backend->configure({{"corpus", (dir / "corpus.jsonl").string()},
                        {"steps", 3},
                        {"batch", 2},
                        {"seq_len", 64},
                        {"chunks", 3},
                        {"lr", 1e-3},
                        {"threads", 2},
                        {"check_blas", false},
                        {"log_every", 100}});
  e2llm::PrepareContext ctx;
  ctx.base_model = {{"path", kStories.string()}, {"format", "gguf"}, {"original_window", 512}};
  ctx.tokenizer = std::make_shared<e2llm::testing::ByteTokenizer>();
  ctx.cache_dir = dir / "cache";
  ctx.windows = {512, 1024, 2048};  // L_t defaults to the largest: s = 2048 / 512 = 4
  const auto record = p.backend->prepare(ctx);
  EXPECT_EQ(record.at("policy").at("policy"), "pose");
  EXPECT_EQ(record.at("policy").at("target_window"), 2048);
  EXPECT_EQ(record.at("policy").at("chunks"), 3);
  const auto saved = formats::load_checkpoint(record.at("checkpoint_path").get<std::string>());
  EXPECT_EQ(saved.config.rope.type, formats::RopeType::Linear);
  EXPECT_DOUBLE_EQ(saved.config.rope.factor, 4.0);
  EXPECT_EQ(saved.config.rope.original_max_position, 512);
  EXPECT_EQ(saved.config.max_position, 2048);
  auto tuned = load_model(saved);
  EXPECT_NE(tuned->fingerprint, stories_model()->fingerprint);
  for (int64_t W : {256, 1024}) {
    const auto ids = random_story_ids(W, 15);
    auto lm = p.backend->open(W);
    EXPECT_DOUBLE_EQ(lm->describe().at("g").get<double>(), 4.0) << W;
    EXPECT_LT(
        max_abs_diff(lm->token_logprobs(ids, 1), reference_logprobs(*tuned, ids, reference_rope("none", 1, W), 4.0)),
        2e-4)
        << W;
  }
  p.backend.reset();
  fs::remove_all(dir);
}
