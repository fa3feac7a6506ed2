// LlamaModel: blocked attention == naive attention (forward and backward), RoPE layouts,
// KV cache, checkpoint round trips, RoPE scaling reaching the model, BLAS speed.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;
namespace fs = std::filesystem;

namespace {

const fs::path kStories = fs::path(E2LLM_SHARED_DATA) / "models" / "stories260K.gguf";

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

const formats::Checkpoint& stories() {
  static const formats::Checkpoint c = formats::load_checkpoint(kStories);
  return c;
}

torch::Tensor random_ids(int64_t B, int64_t T, int64_t seed = 1) {
  torch::manual_seed(seed);
  return torch::randint(0, 512, {B, T}, torch::kLong);
}

RopeInputs default_rope(const LlamaModel& m, int64_t B, int64_t T, int64_t start = 0) {
  return RopeInputs::make(formats::compute_rope(m.config().rope, T), B, T, start);
}

struct AttnCase {
  int64_t B, H, Hkv, T, S, d, qb, kb;
};

AttentionOptions kernel(AttentionKernel k, int64_t qb = 256, int64_t kb = 256) {
  AttentionOptions o;
  o.kernel = k;
  o.query_block = qb;
  o.key_block = kb;
  return o;
}

}  // namespace

TEST(BlockedAttention, MatchesNaiveForward) {
  const std::vector<AttnCase> cases = {
      {2, 4, 2, 37, 37, 16, 8, 5},    // T not a multiple of the blocks, GQA
      {1, 8, 8, 64, 64, 8, 16, 16},   // MHA, exact multiples
      {2, 6, 2, 7, 50, 16, 4, 16},    // KV cache offset (S > T)
      {1, 4, 1, 1, 33, 8, 256, 7},    // one new token, MQA
      {1, 2, 2, 100, 100, 4, 1000, 1000},  // one block covers all
  };
  torch::manual_seed(0);
  for (const auto& c : cases) {
    auto q = torch::randn({c.B, c.H, c.T, c.d});
    auto k = torch::randn({c.B, c.Hkv, c.S, c.d});
    auto v = torch::randn({c.B, c.Hkv, c.S, c.d});
    auto ref = naive_attention(q, k, v);
    auto got = blocked_attention(q, k, v, kernel(AttentionKernel::Blocked, c.qb, c.kb));
    EXPECT_LT(rel_diff(got, ref), 1e-5) << "B" << c.B << " H" << c.H << " Hkv" << c.Hkv << " T" << c.T << " S" << c.S;
  }
}

TEST(BlockedAttention, BackwardMatchesNaive) {
  const std::vector<AttnCase> cases = {{2, 4, 2, 37, 37, 16, 8, 5}, {1, 6, 3, 9, 30, 8, 4, 7}};
  torch::manual_seed(1);
  for (const auto& c : cases) {
    auto q = torch::randn({c.B, c.H, c.T, c.d}, torch::requires_grad());
    auto k = torch::randn({c.B, c.Hkv, c.S, c.d}, torch::requires_grad());
    auto v = torch::randn({c.B, c.Hkv, c.S, c.d}, torch::requires_grad());
    auto dout = torch::randn({c.B, c.H, c.T, c.d});
    auto g_ref = torch::autograd::grad({naive_attention(q, k, v)}, {q, k, v}, {dout});
    auto g_blk = torch::autograd::grad({blocked_attention(q, k, v, kernel(AttentionKernel::Blocked, c.qb, c.kb))}, {q, k, v}, {dout});
    for (int i = 0; i < 3; ++i) EXPECT_LT(rel_diff(g_blk[i], g_ref[i]), 1e-5) << "grad " << i << " T" << c.T;
  }
}

// The fused kernel (LibTorch's scaled_dot_product_attention) against the blocked reference,
// in float32, forward and backward, wherever attention() takes it: T == S (causal) and T == 1.
TEST(FusedAttention, MatchesBlockedForwardAndBackward) {
  const std::vector<AttnCase> cases = {
      {2, 4, 2, 37, 37, 16, 8, 5},   // GQA, causal
      {1, 8, 8, 64, 64, 8, 16, 16},  // MHA
      {3, 6, 1, 33, 33, 32, 7, 9},   // MQA
      {2, 4, 2, 1, 29, 16, 8, 8},    // one decoding step behind a cache
  };
  torch::manual_seed(2);
  for (const auto& c : cases) {
    auto q = torch::randn({c.B, c.H, c.T, c.d}, torch::requires_grad());
    auto k = torch::randn({c.B, c.Hkv, c.S, c.d}, torch::requires_grad());
    auto v = torch::randn({c.B, c.Hkv, c.S, c.d}, torch::requires_grad());
    auto dout = torch::randn({c.B, c.H, c.T, c.d});
    const auto fused = kernel(AttentionKernel::Fused), blocked = kernel(AttentionKernel::Blocked, c.qb, c.kb);
    ASSERT_NE(attention_kernel_name(q, k, v, fused), "blocked");
    ASSERT_EQ(attention_kernel_name(q, k, v, blocked), "blocked");
    auto out_f = attention(q, k, v, fused);
    auto out_b = attention(q, k, v, blocked);
    EXPECT_LT(rel_diff(out_f, out_b), 1e-5) << "T" << c.T << " S" << c.S;
    auto g_f = torch::autograd::grad({out_f}, {q, k, v}, {dout});
    auto g_b = torch::autograd::grad({out_b}, {q, k, v}, {dout});
    for (int i = 0; i < 3; ++i) EXPECT_LT(rel_diff(g_f[i], g_b[i]), 1e-5) << "grad " << i << " T" << c.T;
  }
}

// Chunked prefill behind a cache (1 < T < S) needs a bottom-right causal mask, which the fused
// kernel's top-left mask is not: attention() must take the blocked kernel there.
TEST(FusedAttention, ChunkedPrefillTakesTheBlockedKernel) {
  torch::manual_seed(3);
  auto q = torch::randn({1, 4, 5, 8}), k = torch::randn({1, 2, 20, 8}), v = torch::randn({1, 2, 20, 8});
  EXPECT_EQ(attention_kernel_name(q, k, v), "blocked");
  EXPECT_LT(rel_diff(attention(q, k, v), naive_attention(q, k, v)), 1e-5);
}

// On the CPU LibTorch must pick its flash kernel (memory linear in T), GQA included: the math
// fallback would materialize T × S scores.
TEST(FusedAttention, CpuUsesTheFlashKernelWithGroupedHeads) {
  auto q = torch::randn({1, 8, 4096, 8}), k = torch::randn({1, 4, 4096, 8}), v = torch::randn({1, 4, 4096, 8});
  EXPECT_EQ(attention_kernel_name(q, k, v), "flash");
  auto qt = torch::randn({4, 4, 256, 32}, torch::requires_grad()), kt = torch::randn({4, 2, 256, 32});
  EXPECT_EQ(attention_kernel_name(qt, kt, kt), "flash");
}

TEST(LlamaModel, AdjacentAndHalfLayoutsGiveSameLogits) {
  auto adjacent = load_model(stories());
  auto half = load_model(formats::with_rope_layout(stories(), "half"));
  ASSERT_EQ(adjacent->config().rope_layout, "adjacent");
  ASSERT_EQ(half->config().rope_layout, "half");
  torch::NoGradGuard ng;
  auto ids = random_ids(2, 45);
  auto a = adjacent->forward(ids, default_rope(*adjacent, 2, 45));
  auto h = half->forward(ids, default_rope(*half, 2, 45));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{2, 45, 512}));
  EXPECT_LT(rel_diff(h, a), 1e-5);
}

TEST(LlamaModel, LongInputsThroughTheMlpInRowChunksGiveTheSameLogits) {
  auto model = load_model(stories());
  const int64_t T = LlamaModel::kMlpRowChunk + 300;
  auto ids = random_ids(1, T, 9);
  torch::Tensor whole;
  {
    torch::AutoGradMode on(true);  // autograd on: the MLP takes all rows at once
    whole = model->forward_hidden(ids, default_rope(*model, 1, T)).detach();
  }
  torch::NoGradGuard ng;
  auto chunked = model->forward_hidden(ids, default_rope(*model, 1, T));
  EXPECT_LT(rel_diff(chunked, whole), 1e-5);
}

TEST(LlamaModel, LoadingDrawsNoRandomInitialization) {
  // load_model constructs without drawing weights (load_weights overwrites every one), so it
  // leaves LibTorch's generator where it was; a model built for training draws from it.
  torch::manual_seed(11);
  const auto expected = torch::randn({4});
  torch::manual_seed(11);
  auto model = load_model(stories());
  EXPECT_TRUE(torch::equal(torch::randn({4}), expected));
  torch::manual_seed(11);
  LlamaModel fresh(stories().config);
  EXPECT_FALSE(torch::equal(torch::randn({4}), expected));
  EXPECT_TRUE(
      torch::equal(model->hf_parameter("model.norm.weight"), load_model(stories())->hf_parameter("model.norm.weight")));
}

TEST(LlamaModel, KVCacheIncrementalEqualsFullRecomputation) {
  auto model = load_model(stories());
  AttentionOptions small_blocks;
  small_blocks.query_block = small_blocks.key_block = 8;
  model->set_attention_options(small_blocks);
  torch::NoGradGuard ng;
  const int64_t T = 40;
  auto ids = random_ids(2, T, 3);
  auto full = model->forward(ids, default_rope(*model, 2, T));
  KVCache cache;
  std::vector<torch::Tensor> parts;
  // prefill 13, then single tokens, then a chunk: the cache grows past its first capacity.
  std::vector<int64_t> steps = {13, 1, 1, 1, 16, 1, 7};
  int64_t pos = 0;
  for (int64_t n : steps) {
    parts.push_back(model->forward(ids.narrow(1, pos, n), default_rope(*model, 2, n, pos), &cache));
    pos += n;
  }
  ASSERT_EQ(pos, T);
  EXPECT_EQ(cache.length(), T);
  EXPECT_LT(rel_diff(torch::cat(parts, 1), full), 1e-5);
}

TEST(LlamaModel, KVCacheRefusesAnotherRope) {
  auto model = load_model(stories());
  torch::NoGradGuard ng;
  auto ids = random_ids(1, 10);
  KVCache cache;
  model->forward(ids.narrow(1, 0, 5), default_rope(*model, 1, 5), &cache);
  formats::RopeConfig ntk = model->config().rope;
  ntk.type = formats::RopeType::Ntk;
  ntk.factor = 2.0;
  auto other = RopeInputs::make(formats::compute_rope(ntk), 1, 5, 5);
  EXPECT_THROW(model->forward(ids.narrow(1, 5, 5), other, &cache), e2llm::Error);
  cache.clear();
  EXPECT_NO_THROW(model->forward(ids, RopeInputs::make(formats::compute_rope(ntk), 1, 10), &cache));
}

TEST(LlamaModel, GgufToHfDirRoundTripGivesIdenticalLogits) {
  const fs::path dir = fs::temp_directory_path() / ("e2llm_llama_roundtrip_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  formats::save_hf_dir(stories(), dir);
  auto from_gguf = load_model(stories());
  auto from_hf = load_model(formats::load_checkpoint(dir));
  EXPECT_EQ(from_hf->config().rope_layout, "half");
  torch::NoGradGuard ng;
  auto ids = random_ids(1, 33, 5);
  auto a = from_gguf->forward(ids, default_rope(*from_gguf, 1, 33));
  auto b = from_hf->forward(ids, default_rope(*from_hf, 1, 33));
  EXPECT_LT(rel_diff(b, a), 1e-5);
  // and back out of the model: to_checkpoint -> load_model is exact
  auto again = load_model(to_checkpoint(*from_hf));
  EXPECT_TRUE(torch::equal(again->forward(ids, default_rope(*again, 1, 33)), b));
  fs::remove_all(dir);
}

TEST(LlamaModel, LoadWeightsNamesMissingAndMisShapedTensors) {
  formats::Checkpoint missing = stories();
  missing.tensors.erase("model.layers.2.mlp.up_proj.weight");
  try {
    load_model(missing);
    FAIL() << "expected an error";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.2.mlp.up_proj.weight"), std::string::npos) << e.what();
  }
  formats::Checkpoint bad = stories();
  auto& view = bad.tensors.at("model.norm.weight");
  view.shape = {32, 2};
  try {
    load_model(bad);
    FAIL() << "expected an error";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.norm.weight"), std::string::npos) << e.what();
  }
}

TEST(LlamaModel, RopeScalingReachesTheModel) {
  auto model = load_model(stories());
  const formats::RopeConfig base = model->config().rope;
  std::vector<int32_t> ids;
  for (int i = 0; i < 120; ++i) ids.push_back(1 + (i * 37) % 500);
  auto logprobs = [&](formats::RopeType type, double factor) {
    formats::RopeConfig r = base;
    r.type = type;
    r.factor = factor;
    TorchLanguageModel lm(model, r, 2048, nullptr);
    return torch::tensor(lm.token_logprobs(ids, 1));
  };
  auto plain = logprobs(formats::RopeType::Default, 1.0);
  ASSERT_EQ(plain.numel(), 119);
  for (auto type : {formats::RopeType::Linear, formats::RopeType::Ntk, formats::RopeType::Yarn}) {
    EXPECT_LT(rel_diff(logprobs(type, 1.0), plain), 1e-6) << formats::rope_type_name(type) << " s=1";
    EXPECT_GT(rel_diff(logprobs(type, 4.0), plain), 1e-3) << formats::rope_type_name(type) << " s=4";
  }
  // dynamic NTK at n <= L is plain RoPE (n = 120 < 512)
  EXPECT_LT(rel_diff(logprobs(formats::RopeType::DynamicNtk, 4.0), plain), 1e-6);
}

TEST(LlamaModel, TokenLogprobsMatchForwardLogSoftmax) {
  auto model = load_model(stories());
  TorchLanguageModel lm(model, model->config().rope, 512, nullptr);
  std::vector<int32_t> ids = {1, 400, 22, 33, 7, 99, 250, 12};
  auto got = lm.token_logprobs(ids, 3);
  ASSERT_EQ(got.size(), 5u);
  torch::NoGradGuard ng;
  auto t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  auto logp = torch::log_softmax(model->forward(t, default_rope(*model, 1, 8)), -1)[0];
  for (size_t i = 3; i < ids.size(); ++i) EXPECT_NEAR(got[i - 3], logp[i - 1][ids[i]].item<float>(), 1e-5);
  EXPECT_THROW(lm.token_logprobs(std::vector<int32_t>(513, 5), 1), e2llm::Error);
}

TEST(LlamaModel, TrainingBackwardGivesFiniteGradients) {
  auto model = load_model(stories());
  AttentionOptions blocks16;
  blocks16.query_block = blocks16.key_block = 16;
  model->set_attention_options(blocks16);
  auto ids = random_ids(2, 50, 9);
  // E²-LLM style positions: sink of 4 tokens, then an offset, all divided by g = 2.
  auto pos = torch::arange(50, torch::kFloat64);
  pos.narrow(0, 4, 46).add_(30);
  RopeInputs rope{(pos / 2.0).unsqueeze(0).expand({2, 50}), torch::tensor(formats::compute_rope(model->config().rope).inv_freq), 1.0};
  auto logits = model->forward(ids.narrow(1, 0, 49), RopeInputs{rope.positions.narrow(1, 0, 49), rope.inv_freq, 1.0});
  auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 512}), ids.narrow(1, 1, 49).reshape({-1}));
  loss.backward();
  for (const auto& [name, p] : model->hf_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>()) << name;
  }
  EXPECT_GT(model->hf_parameter("model.layers.0.self_attn.q_proj.weight").grad().abs().sum().item<double>(), 0.0);
}

// The start-up check's logic, without asserting a speed (a loaded machine would make any
// threshold flaky; tests/foundation/test_blas.cpp checks which BLAS LibTorch was built with).
TEST(Machine, RequireFastBlasRefusesARateBelowItsThreshold) {
  const double gflops = measure_matmul_cpu_gflops(256, 2);
  RecordProperty("matmul_cpu_gflops", std::to_string(gflops));
  EXPECT_TRUE(std::isfinite(gflops) && gflops > 0.0) << gflops;
  EXPECT_NO_THROW(require_fast_blas(0.0));
  try {
    require_fast_blas(1e12);  // no CPU reaches a petaflop per core-second
    FAIL() << "require_fast_blas(1e12) did not refuse";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("reference BLAS"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("docs/pitfalls.md"), std::string::npos) << e.what();
  }
}
