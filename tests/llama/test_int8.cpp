// Weight-only int8 projections (int8_linear.hpp) on stories260K: the layer against its
// float reference, zero rows and input widths the kernel cannot take unpadded, the model's
// logits against float32, training on the float weights, stale copies refused.
#include <gtest/gtest.h>

#include <filesystem>

#include "e2llm/error.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/int8_linear.hpp"
#include "e2llm/llama/model.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;
namespace fs = std::filesystem;

namespace {

const fs::path kStories = fs::path(E2LLM_SHARED_DATA) / "models" / "stories260K.gguf";

std::shared_ptr<LlamaModel> stories(WeightStorage storage) {
  static const formats::Checkpoint c = formats::load_checkpoint(kStories);
  ModelOptions options;
  options.weights = storage;
  return load_model(c, options);
}

torch::Tensor logits(LlamaModel& m, const torch::Tensor& ids) {
  return m.forward(ids, RopeInputs::make(formats::compute_rope(m.config().rope, ids.size(1)), 1, ids.size(1)));
}

}  // namespace

TEST(Int8Linear, MatchesItsDequantizedWeightOnBfloat16Inputs) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  // K = 172 and 40 are not multiples of 16: unpadded, the kernel crashes or returns NaN.
  for (int64_t k : {64, 172, 40}) {
    auto w = torch::randn({96, k}) * 0.05;
    w[5].zero_();  // a zero row: scale 1, output 0
    auto layer = Int8Linear::quantize(w);
    EXPECT_EQ(layer.in_features(), k);
    EXPECT_EQ(layer.out_features(), 96);
    // Each weight within half a step of its channel's grid.
    auto step = w.abs().amax(1, true) / 127.0;
    EXPECT_TRUE(((layer.dequantized() - w).abs() <= step * 0.5 + 1e-7).all().item<bool>()) << "K = " << k;
    for (int64_t rows : {1, 7, 300}) {
      auto x = torch::randn({rows, k});
      auto y = layer(x);
      ASSERT_EQ(y.sizes(), (std::vector<int64_t>{rows, 96}));
      ASSERT_TRUE(torch::isfinite(y).all().item<bool>()) << "K = " << k << ", rows = " << rows;
      // The reference: the same bfloat16 inputs times the dequantized weight in float32. The
      // kernel's bfloat16 output rounds each value by at most 2^-8 relative.
      auto ref = torch::matmul(x.to(torch::kBFloat16).to(torch::kFloat32), layer.dequantized().t());
      auto err = (y - ref).abs();
      auto bound = ref.abs() * (1.0 / 256) + 1e-4;
      EXPECT_TRUE((err <= bound).all().item<bool>())
          << "K = " << k << ", rows = " << rows << ": max error " << err.max().item<double>();
      EXPECT_EQ(y.select(1, 5).abs().max().item<double>(), 0.0);
    }
    // Leading dimensions pass through.
    auto x3 = torch::randn({2, 3, k});
    EXPECT_TRUE(torch::equal(layer(x3).view({6, 96}), layer(x3.view({6, k}))));
  }
  EXPECT_THROW(Int8Linear::quantize(torch::randn({4, 16}, torch::kFloat64)), e2llm::Error);
  EXPECT_THROW(Int8Linear::quantize(torch::randn({16})), e2llm::Error);
}

TEST(Int8Weights, LogitsStayCloseToFloat32AndTrainingUsesTheFloatWeights) {
  auto f = stories(WeightStorage::Float);
  auto q = stories(WeightStorage::Int8);
  EXPECT_EQ(q->weight_storage(), WeightStorage::Int8);
  torch::manual_seed(11);
  auto ids = torch::randint(1, 512, {1, 200}, torch::kLong);
  torch::Tensor lf, lq;
  {
    torch::NoGradGuard no_grad;
    lf = torch::log_softmax(logits(*f, ids), -1);
    lq = torch::log_softmax(logits(*q, ids), -1);
  }
  // The int8 path is taken (the logits differ) and stays close: the mean log-probability of
  // the tokens that follow moves by under 1%, the next-token argmax agrees almost everywhere.
  EXPECT_FALSE(torch::equal(lf, lq));
  auto next = ids.narrow(1, 1, 199).unsqueeze(-1);
  const double nll_f = -lf.narrow(1, 0, 199).gather(-1, next).mean().item<double>();
  const double nll_q = -lq.narrow(1, 0, 199).gather(-1, next).mean().item<double>();
  EXPECT_NEAR(nll_q / nll_f, 1.0, 0.01) << nll_f << " vs " << nll_q;
  const double agree = (lf.argmax(-1) == lq.argmax(-1)).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(agree, 0.95);
  // With autograd (training) the float weights serve: the same logits as the float model.
  auto lq_grad = torch::log_softmax(logits(*q, ids), -1);
  EXPECT_TRUE(torch::equal(lq_grad.detach(), lf));
  // A forward reads about a quarter of the float bytes of the quantized tensors.
  EXPECT_LT(q->weight_bytes(), f->weight_bytes());
}

TEST(Int8Weights, ChangedFloatWeightsMakeTheCopiesStaleUntilQuantizedAgain) {
  auto q = stories(WeightStorage::Int8);
  torch::NoGradGuard no_grad;
  auto ids = torch::randint(1, 512, {1, 20}, torch::kLong);
  auto before = logits(*q, ids);
  q->hf_parameter("model.layers.2.mlp.up_proj.weight").mul_(0.5);  // an in-place update (a training step)
  try {
    logits(*q, ids);
    FAIL() << "a stale int8 copy served";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("set_weight_storage"), std::string::npos) << e.what();
  }
  q->set_weight_storage(WeightStorage::Int8);
  auto after = logits(*q, ids);
  EXPECT_FALSE(torch::equal(before, after));
  q->set_weight_storage(WeightStorage::Float);
  EXPECT_TRUE(torch::isfinite(logits(*q, ids)).all().item<bool>());
}

TEST(Int8Weights, OnlyFloat32CpuModelsAreQuantized) {
  auto m = stories(WeightStorage::Float);
  auto bf16 = std::make_shared<LlamaModel>(m->config(), ModelOptions{torch::kCPU, torch::kBFloat16, {}},
                                           WeightInit::Uninitialized);
  try {
    bf16->set_weight_storage(WeightStorage::Int8);
    FAIL() << "a bfloat16 model was quantized";
  } catch (const e2llm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_weight_storage("int8"), WeightStorage::Int8);
  EXPECT_THROW(parse_weight_storage("int4"), e2llm::ConfigError);
}
