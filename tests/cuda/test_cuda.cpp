// The engine on a CUDA GPU: device names, stories260K's logits on the GPU against the CPU,
// the fused attention kernels against the blocked reference, bf16 evaluation, the KV cache,
// and bf16-autocast training steps with float32 master weights. Every test skips with one
// line where no GPU is visible (the CPU suites prove the shared logic there); the suite is
// labelled `cuda` and scripts/device-check.sh runs it on a GPU machine.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/device_torch.hpp"
#include "e2llm/llama/model.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;

namespace {

#define REQUIRE_GPU()                                                                                   \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA GPU visible to LibTorch (run on a GPU machine: " \
                                                    "scripts/device-check.sh)"

// ../shared/data by default; scripts/device-check.sh points it at the copy it carries.
std::string shared_data() {
  const char* env = std::getenv("E2LLM_SHARED_DATA");
  return env && *env ? env : E2LLM_SHARED_DATA;
}

double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  auto fa = a.to(torch::kCPU, torch::kFloat64), fb = b.to(torch::kCPU, torch::kFloat64);
  return ((fa - fb).abs().max() / fb.abs().max().clamp_min(1e-12)).item<double>();
}

RopeInputs default_rope(const LlamaModel& m, int64_t B, int64_t T) {
  formats::RopeConfig r = m.config().rope;
  r.type = formats::RopeType::Default;
  r.head_dim = m.config().head_dim();
  return RopeInputs::make(formats::compute_rope(r), B, T);
}

std::shared_ptr<LlamaModel> stories(torch::Device device, torch::Dtype dtype = torch::kFloat32) {
  ModelOptions o;
  o.device = device;
  o.dtype = dtype;
  return load_model(formats::load_checkpoint(shared_data() + "/models/stories260K.gguf"), o);
}

AttentionOptions kernel(AttentionKernel k) {
  AttentionOptions o;
  o.kernel = k;
  o.query_block = o.key_block = 64;
  return o;
}

}  // namespace

TEST(CudaDevice, NamesResolve) {
  REQUIRE_GPU();
  EXPECT_EQ(resolve_device_name("auto").rfind("cuda:", 0), 0u);
  EXPECT_EQ(resolve_device_name("cuda:0"), "cuda:0");
  EXPECT_THROW(resolve_device_name("cuda:4096"), e2llm::Error);
  const auto j = describe_device("cuda:0");
  EXPECT_FALSE(j.value("device_name", std::string()).empty()) << j.dump();
  EXPECT_GT(j.value("device_memory_bytes", 0LL), 0) << j.dump();
}

TEST(CudaModel, Stories260KLogitsMatchTheCpuInFloat32) {
  REQUIRE_GPU();
  auto cpu = stories(torch::kCPU), gpu = stories(torch::Device("cuda:0"));
  torch::NoGradGuard ng;
  torch::manual_seed(0);
  auto ids = torch::randint(0, 512, {2, 300}, torch::kLong);
  auto a = cpu->forward(ids, default_rope(*cpu, 2, 300));
  auto b = gpu->forward(ids, default_rope(*gpu, 2, 300));
  ASSERT_TRUE(b.is_cuda());
  EXPECT_LT(rel_diff(b, a), 1e-4);
  EXPECT_GT(device_peak_bytes("cuda:0"), 0);
}

TEST(CudaAttention, FusedMatchesBlockedForwardAndBackwardInFloat32) {
  REQUIRE_GPU();
  torch::manual_seed(1);
  const auto opts = torch::TensorOptions().device("cuda:0").requires_grad(true);
  auto q = torch::randn({2, 8, 300, 64}, opts), k = torch::randn({2, 2, 300, 64}, opts), v = torch::randn({2, 2, 300, 64}, opts);
  const std::string name = attention_kernel_name(q, k, v, kernel(AttentionKernel::Fused));
  EXPECT_NE(name, "blocked");
  EXPECT_NE(name, "math") << "fp32 GQA should take a fused kernel (memory-efficient) on CUDA";
  auto out_f = attention(q, k, v, kernel(AttentionKernel::Fused));
  auto out_b = attention(q, k, v, kernel(AttentionKernel::Blocked));
  EXPECT_LT(rel_diff(out_f, out_b), 1e-5);
  auto dout = torch::randn_like(out_f);
  auto g_f = torch::autograd::grad({out_f}, {q, k, v}, {dout});
  auto g_b = torch::autograd::grad({out_b}, {q, k, v}, {dout});
  for (int i = 0; i < 3; ++i) EXPECT_LT(rel_diff(g_f[i], g_b[i]), 1e-5) << "grad " << i;
}

TEST(CudaAttention, Bfloat16TakesTheFlashKernelAndStaysClose) {
  REQUIRE_GPU();
  torch::manual_seed(2);
  const auto opts = torch::TensorOptions().device("cuda:0").dtype(torch::kBFloat16);
  auto q = torch::randn({1, 8, 1024, 64}, opts), k = torch::randn({1, 2, 1024, 64}, opts), v = torch::randn({1, 2, 1024, 64}, opts);
  EXPECT_EQ(attention_kernel_name(q, k, v, kernel(AttentionKernel::Fused)), "flash");
  EXPECT_LT(rel_diff(attention(q, k, v, kernel(AttentionKernel::Fused)),
                     attention(q.to(torch::kFloat32), k.to(torch::kFloat32), v.to(torch::kFloat32), kernel(AttentionKernel::Blocked))),
            2e-2);
}

TEST(CudaModel, Bfloat16EvaluationIsCloseToFloat32) {
  REQUIRE_GPU();
  auto f32 = stories(torch::Device("cuda:0")), bf16 = stories(torch::Device("cuda:0"), torch::kBFloat16);
  torch::NoGradGuard ng;
  torch::manual_seed(3);
  auto ids = torch::randint(0, 512, {1, 256}, torch::kLong);
  auto a = torch::log_softmax(f32->forward(ids, default_rope(*f32, 1, 256)).to(torch::kFloat32), -1);
  auto b = torch::log_softmax(bf16->forward(ids, default_rope(*bf16, 1, 256)).to(torch::kFloat32), -1);
  EXPECT_LT((a - b).abs().mean().item<double>(), 0.05);
}

TEST(CudaModel, CachedGreedyEqualsRecomputation) {
  REQUIRE_GPU();
  auto model = stories(torch::Device("cuda:0"));
  formats::RopeConfig r = model->config().rope;
  r.type = formats::RopeType::Default;
  r.head_dim = model->config().head_dim();
  e2llm::GenerationOptions g;
  g.max_new_tokens = 40;
  const auto cached = generate_tokens(*model, {1}, formats::compute_rope(r), g);
  // Recompute: one full forward per step, no cache.
  torch::NoGradGuard ng;
  std::vector<int64_t> ids = {1};
  for (int i = 0; i < 40; ++i) {
    auto t = torch::tensor(ids, torch::kLong).unsqueeze(0);
    auto logits = model->forward(t, default_rope(*model, 1, t.size(1)));
    ids.push_back(logits[0][-1].argmax().item<int64_t>());
  }
  ASSERT_EQ(cached.size(), 40u);
  for (size_t i = 0; i < cached.size(); ++i) EXPECT_EQ(cached[i], ids[i + 1]) << "token " << i;
}

TEST(CudaTraining, Bf16AutocastKeepsFloat32MasterWeightsAndLearns) {
  REQUIRE_GPU();
  const torch::Device dev("cuda:0");
  formats::ModelConfig c;
  c.dim = 128, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.hidden_dim = 256, c.vocab_size = 256;
  c.max_position = 128;
  c.rope.head_dim = 32;
  c.rope.original_max_position = 128;
  torch::manual_seed(4);
  ModelOptions mo;
  mo.device = dev;
  LlamaModel model(c, mo);
  torch::optim::AdamW opt(model.parameters(), torch::optim::AdamWOptions(3e-3));
  auto ids = torch::randint(0, 256, {4, 129}, torch::TensorOptions().dtype(torch::kLong).device(dev));
  auto rope = default_rope(model, 4, 128);
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    torch::Tensor logits;
    {
      AutocastGuard guard(dev, use_bf16_autocast("auto", dev));
      logits = model.forward(ids.narrow(1, 0, 128), rope);
    }
    EXPECT_EQ(logits.scalar_type(), torch::kBFloat16);
    auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 256}).to(torch::kFloat32),
                                                     ids.narrow(1, 1, 128).reshape({-1}));
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  for (const auto& p : model.parameters()) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat32);
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
  }
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCUDA)) << "the guard must restore the autocast state";
  EXPECT_LT(last, 0.5 * first) << "30 steps on one batch should memorize it (first " << first << ", last " << last << ")";
}
