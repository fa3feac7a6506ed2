// Self-Extend (docs/methods.md §Self-Extend): the blocked kernel against a dense one written
// here; the stories260K model's logits and cached greedy generation against an independent
// float64 numpy implementation of the paper's equations (self_extend_reference.py, from the
// repository's .venv, reading the GGUF with the gguf package); the "self-extend" backend
// plugin as the harness loads it.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <boost/dll.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/backend.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using namespace e2llm::llama;
using e2llm::testing::quote;
using e2llm::testing::run_command;
using json = nlohmann::json;
using torch::Tensor;

namespace {

const fs::path kStories = fs::path(E2LLM_SHARED_DATA) / "models" / "stories260K.gguf";

// Dense Self-Extend attention on [B, H, T, d] / [B, Hkv, S, d], query i at S − T + i.
Tensor dense_self_extend(const Tensor& qn, const Tensor& qg, const Tensor& kn, const Tensor& kg, const Tensor& v,
                         int64_t window) {
  const int64_t H = qn.size(1), Hkv = kn.size(1), T = qn.size(2), S = kn.size(2), d = qn.size(3);
  auto rep = [&](const Tensor& x) { return x.repeat_interleave(H / Hkv, 1).to(torch::kFloat64); };
  auto sn = torch::matmul(qn.to(torch::kFloat64), rep(kn).transpose(-1, -2));
  auto sg = torch::matmul(qg.to(torch::kFloat64), rep(kg).transpose(-1, -2));
  auto p = torch::arange(S - T, S).view({-1, 1}), k = torch::arange(S).view({1, -1});
  auto s = torch::where(p - k < window, sn, sg) / std::sqrt(static_cast<double>(d));
  s = s.masked_fill(k > p, -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(s, -1), rep(v)).to(torch::kFloat32);
}

std::shared_ptr<LlamaModel> stories() {
  static auto model = load_model(e2llm::formats::load_checkpoint(kStories));
  return model;
}

std::vector<int32_t> story_ids(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids{1};
  while (static_cast<int64_t>(ids.size()) < n) ids.push_back(static_cast<int32_t>(3 + rng() % 509));
  return ids;
}

// Logits [T, V] of one forward at positions 0..T−1 with plain RoPE and Self-Extend (G, w).
Tensor logits(const std::vector<int32_t>& ids, SelfExtendOptions se) {
  torch::NoGradGuard ng;
  const int64_t T = static_cast<int64_t>(ids.size());
  RopeInputs rope = RopeInputs::make(e2llm::formats::compute_rope(stories()->config().rope), 1, T);
  rope.self_extend = se;
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  return stories()->forward(torch::tensor(ids64).unsqueeze(0), rope)[0];
}

struct Scratch {
  fs::path path = fs::temp_directory_path() / ("e2llm-self-extend-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(path); }
  ~Scratch() { fs::remove_all(path); }
};

json run_reference(const json& manifest, const Scratch& dir) {
  e2llm::util::write_file_atomic(dir.path / "manifest.json", manifest.dump());
  const fs::path source = E2LLM_SOURCE_DIR;
  const auto r = run_command(quote((source / ".venv/bin/python").string()) + " " +
                             quote((source / "tests/llama/self_extend_reference.py").string()) + " " +
                             quote((dir.path / "manifest.json").string()));
  if (r.exit_code != 0) throw std::runtime_error("self_extend_reference.py failed: " + r.err);
  return json::parse(r.out);
}

Tensor read_f64(const fs::path& file, int64_t rows, int64_t cols) {
  const std::string bytes = e2llm::util::read_file(file);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), rows * cols * 8);
  return torch::from_blob(const_cast<char*>(bytes.data()), {rows, cols}, torch::kFloat64).clone();
}

}  // namespace

// The kernel: blocked, two kinds of score, GQA, any block size, prefill behind a cache (T < S)
// and one decoding step, against the dense form.
TEST(SelfExtendKernel, EqualsDenseForm) {
  torch::manual_seed(3);
  struct Case {
    int64_t T, S, window, block;
  };
  for (const auto& c : {Case{50, 50, 8, 16}, Case{64, 64, 1, 7}, Case{64, 64, 200, 16}, Case{37, 90, 20, 32},
                        Case{1, 90, 20, 16}, Case{1, 90, 95, 16}, Case{128, 128, 48, 128}}) {
    SCOPED_TRACE("T " + std::to_string(c.T) + " S " + std::to_string(c.S) + " w " + std::to_string(c.window) +
                 " block " + std::to_string(c.block));
    auto qn = torch::randn({2, 4, c.T, 8}), qg = torch::randn({2, 4, c.T, 8});
    auto kn = torch::randn({2, 2, c.S, 8}), kg = torch::randn({2, 2, c.S, 8}), v = torch::randn({2, 2, c.S, 8});
    AttentionOptions o;
    o.query_block = o.key_block = c.block;
    const auto got = self_extend_attention(qn, qg, kn, kg, v, c.window, o);
    EXPECT_LT((got - dense_self_extend(qn, qg, kn, kg, v, c.window)).abs().max().item<double>(), 1e-5);
  }
  // With the grouped q, k equal to the exact ones it is plain causal attention.
  auto q = torch::randn({1, 4, 40, 8}), k = torch::randn({1, 2, 40, 8}), v = torch::randn({1, 2, 40, 8});
  EXPECT_LT((self_extend_attention(q, q, k, k, v, 5) - naive_attention(q, k, v)).abs().max().item<double>(), 1e-5);
  auto g = torch::randn({1, 2, 40, 8}).set_requires_grad(true);
  EXPECT_THROW(self_extend_attention(q, q, g, g, v, 5), e2llm::Error);  // no backward
}

TEST(SelfExtendPositions, GroupRule) {
  const SelfExtendOptions o{4, 64};
  EXPECT_EQ(o.query_shift(), 48);
  EXPECT_EQ(o.max_relative_position(64), 63);          // all neighbours
  EXPECT_EQ(o.max_relative_position(2048), 511 + 48);  // floor(2047/4) + 64 − 16
  EXPECT_EQ(smallest_group_for(512, 128, 512), 1);     // W <= L: plain attention
  EXPECT_EQ(smallest_group_for(2048, 128, 512), 6);    // floor(2047/G) + 128 − floor(128/G) <= 511
  EXPECT_EQ((SelfExtendOptions{6, 128}).max_relative_position(2048), 341 + 128 - 21);
  EXPECT_EQ((SelfExtendOptions{5, 128}).max_relative_position(2048), 409 + 128 - 25);  // 512: one too far
  EXPECT_THROW(smallest_group_for(2048, 512, 512), e2llm::Error);                      // w must be below L
  EXPECT_FALSE((SelfExtendOptions{1, 64}).enabled());
}

// The model's logits at several W, G, w against the numpy reference (float64), and greedy
// generation through the KV cache (grouped keys cached beside the exact ones) against the
// reference's recomputation of the whole sequence at every step.
TEST(SelfExtendModel, LogitsAndCachedGenerationEqualTheReference) {
  set_threads(2);
  struct Case {
    int64_t T, group, window;
  };
  const std::vector<Case> cases = {{700, 2, 128}, {1100, 4, 256}, {1500, 8, 64}, {600, 3, 50}};
  Scratch dir;
  json manifest = {{"gguf", kStories.string()}, {"logits", json::array()}, {"greedy", json::array()}};
  std::vector<Tensor> ours;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const auto ids = story_ids(c.T, 100 + i);
    ours.push_back(logits(ids, {c.group, c.window}));
    manifest["logits"].push_back({{"name", std::to_string(i)},
                                  {"ids", ids},
                                  {"group", c.group},
                                  {"window", c.window},
                                  {"out", (dir.path / (std::to_string(i) + ".f64")).string()}});
  }
  // Generation: a prompt longer than w, so the new tokens see grouped keys from the cache.
  const auto prompt = story_ids(300, 7);
  e2llm::GenerationOptions greedy;
  greedy.max_new_tokens = 40;
  const SelfExtendOptions gen{4, 64};
  const auto generated =
      generate_tokens(*stories(), prompt, e2llm::formats::compute_rope(stories()->config().rope), greedy, gen);
  manifest["greedy"].push_back({{"name", "gen"}, {"prompt", prompt}, {"n", 40}, {"group", 4}, {"window", 64}});
  const auto ref = run_reference(manifest, dir);

  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE("W " + std::to_string(c.T) + " G " + std::to_string(c.group) + " w " + std::to_string(c.window));
    const auto want = read_f64(dir.path / (std::to_string(i) + ".f64"), c.T, ours[i].size(1));
    const double diff = (ours[i].to(torch::kFloat64) - want).abs().max().item<double>();
    const double scale = want.abs().max().item<double>();
    std::cout << "W " << c.T << " G " << c.group << " w " << c.window << ": max |diff| " << diff << ", max |logit| "
              << scale << "\n";
    EXPECT_LT(diff, 1e-5 * scale);
    // Self-Extend changes the logits beyond w (so the comparison can fail).
    const auto plain = logits(story_ids(c.T, 100 + i), {});
    EXPECT_GT((plain - ours[i]).abs().max().item<double>(), 1e3 * diff + 1e-3);
  }
  EXPECT_EQ(ref["gen"].get<std::vector<int32_t>>(), generated);
}

// Chunked prefill behind the cache and one-token steps give the logits of one full forward.
TEST(SelfExtendModel, CachedChunksEqualOneForward) {
  torch::NoGradGuard ng;
  const auto ids = story_ids(400, 21);
  const SelfExtendOptions se{4, 32};
  const auto full = logits(ids, se);
  const auto freq = e2llm::formats::compute_rope(stories()->config().rope);
  KVCache cache;
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t n : {150, 100, 1, 1, 148}) {
    std::vector<int64_t> chunk(ids.begin() + start, ids.begin() + start + n);
    RopeInputs rope = RopeInputs::make(freq, 1, n, start);
    rope.self_extend = se;
    parts.push_back(stories()->forward(torch::tensor(chunk).unsqueeze(0), rope, &cache)[0]);
    start += n;
  }
  EXPECT_LT((torch::cat(parts, 0) - full).abs().max().item<double>(), 1e-4);
  // The cache refuses another Self-Extend setting, and positions other than token indices.
  RopeInputs other = RopeInputs::make(freq, 1, 1, start);
  other.self_extend = {8, 32};
  EXPECT_THROW(stories()->forward(torch::tensor({int64_t{5}}).unsqueeze(0), other, &cache), e2llm::Error);
  RopeInputs scaled = RopeInputs::make(freq, 1, 10, 0, 2.0);
  scaled.self_extend = se;
  EXPECT_THROW(stories()->forward(torch::ones({1, 10}, torch::kLong), scaled), e2llm::Error);
}

// The plugin as the harness loads it: G chosen per window, W <= L plain, the log-probabilities
// of the model with that G, and the LanguageModel contract.
TEST(SelfExtendBackend, ServesGroupedAttentionPerWindow) {
  boost::dll::shared_library lib(std::string(E2LLM_PLUGIN_DIR) + "/libe2llm_backend_self_extend.so",
                                 boost::dll::load_mode::rtld_local);
  const auto* d = lib.get<const e2llm::PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME)();
  std::unique_ptr<e2llm::Backend> backend(dynamic_cast<e2llm::Backend*>(d->create()));
  ASSERT_TRUE(backend);
  EXPECT_EQ(backend->info().name, "self-extend");
  EXPECT_THROW(backend->configure({{"neighbour_window", 64}}), e2llm::ConfigError);  // spelled neighbor_window
  backend->configure({{"neighbor_window", 128}, {"threads", 2}});
  e2llm::PrepareContext ctx;
  ctx.base_model = {{"path", kStories.string()}, {"original_window", 512}};
  backend->prepare(ctx);
  const auto ids = story_ids(2000, 5);
  {
    auto lm = backend->open(512);
    EXPECT_FALSE(lm->describe().contains("self_extend"));  // G = 1 at W = L
  }
  auto lm = backend->open(2048);
  const auto desc = lm->describe();
  EXPECT_EQ(desc.at("self_extend").at("group"), 6);  // the smallest G keeping 2048 tokens below L
  EXPECT_EQ(desc.at("self_extend").at("neighbor_window"), 128);
  EXPECT_LE(desc.at("self_extend").at("max_relative_position").get<int64_t>(), 511);
  EXPECT_DOUBLE_EQ(desc.at("g").get<double>(), 1.0);
  const auto lp = lm->token_logprobs(ids, 1);
  const auto z = torch::log_softmax(logits(ids, {6, 128}).to(torch::kFloat64), -1);
  double worst = 0;
  for (size_t i = 1; i < ids.size(); ++i)
    worst = std::max(worst, std::abs(lp[i - 1] - z[i - 1][ids[i]].item<double>()));
  EXPECT_LT(worst, 1e-4);
  lm.reset();
  backend->configure({{"neighbor_window", 600}});
  backend->prepare(ctx);
  EXPECT_THROW(backend->open(2048), e2llm::ConfigError);  // w must be below L
  backend.reset();
}
