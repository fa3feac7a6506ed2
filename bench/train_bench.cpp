// Training throughput of the LibTorch trainer's step: forward (RoPE from explicit
// positions), next-token loss, backward, global-norm clipping, AdamW, on the CPU or a GPU.
// Default: a ~5M-parameter Llama at R = 256 on the CPU. Random token ids (seeded) so the
// Python twin (bench/train_twin.py) trains on the same data. Prints one JSON line.
//
//   train_bench [--threads N] [--steps S] [--warmup W] [--batch B] [--seq R]
//               [--dim D] [--layers N] [--heads H] [--kv-heads K] [--ffn F] [--vocab V]
//               [--device cpu|cuda|cuda:N] [--precision float32|bf16-autocast]
//               [--attention fused|blocked] [--peak-tflops T]
// MFU = 6·params·tokens/s over --peak-tflops when given (e.g. the H200's ~790 dense bf16),
// else over the matmul rate measured in this process on the same device and dtype.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "e2llm/llama/device_torch.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/train/trainer.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;

int main(int argc, char** argv) {
  int threads = 2, steps = 10, warmup = 2;
  int64_t batch = 8, seq = 256, dim = 256, layers = 6, heads = 8, kv_heads = 8, ffn = 688, vocab = 512;
  std::string device_name = "cpu", precision = "float32", attention = "fused";
  double peak_tflops = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], value = argv[i + 1];
    const long v = std::strtol(value.c_str(), nullptr, 10);
    if (a == "--threads") threads = static_cast<int>(v);
    else if (a == "--steps") steps = static_cast<int>(v);
    else if (a == "--warmup") warmup = static_cast<int>(v);
    else if (a == "--batch") batch = v;
    else if (a == "--seq") seq = v;
    else if (a == "--dim") dim = v;
    else if (a == "--layers") layers = v;
    else if (a == "--heads") heads = v;
    else if (a == "--kv-heads") kv_heads = v;
    else if (a == "--ffn") ffn = v;
    else if (a == "--vocab") vocab = v;
    else if (a == "--device") device_name = value;
    else if (a == "--precision") precision = value;
    else if (a == "--attention") attention = value;
    else if (a == "--peak-tflops") peak_tflops = std::strtod(value.c_str(), nullptr);
    else {
      std::fprintf(stderr, "train_bench: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  try {
    set_threads(threads);
    // The trainer's allocator setting (trainer.hpp); E2LLM_BENCH_DEFAULT_MALLOC=1 measures without it.
    if (!std::getenv("E2LLM_BENCH_DEFAULT_MALLOC")) e2llm::llama::train::tune_cpu_allocator();
    const torch::Device device = to_torch_device(device_name);
    const bool autocast = use_bf16_autocast(precision, device);
    formats::ModelConfig c;
    c.dim = dim, c.n_layers = layers, c.n_heads = heads, c.n_kv_heads = kv_heads, c.hidden_dim = ffn, c.vocab_size = vocab;
    c.max_position = seq;
    c.rope.head_dim = dim / heads;
    c.rope.original_max_position = seq;
    torch::manual_seed(0);
    ModelOptions mo;
    mo.device = device;
    mo.attention.kernel = parse_attention_kernel(attention);
    mo.attention.query_block = mo.attention.key_block = 256;
    LlamaModel model(c, mo);
    int64_t n_params = 0;
    for (const auto& p : model.parameters()) n_params += p.numel();
    std::vector<torch::Tensor> decay, no_decay;
    for (const auto& p : model.parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
    auto base = torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95});
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(base).weight_decay(0.1)));
    groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(base).weight_decay(0.0)));
    torch::optim::AdamW opt(std::move(groups), base);
    const auto f = formats::compute_rope(c.rope);
    auto inv_freq = torch::tensor(f.inv_freq, torch::kFloat64);
    auto positions = torch::arange(seq, torch::kFloat64).unsqueeze(0).expand({batch, seq}).contiguous();
    auto params = model.parameters();
    auto data = torch::randint(vocab, {steps + warmup, batch, seq + 1}, torch::kLong);
    auto sync = [&] {
      if (device.is_cuda()) torch::cuda::synchronize(device.index());
    };
    reset_device_peak(device.str());

    double total = 0, loss_v = 0, fwd = 0, bwd = 0, upd = 0;
    auto since = [](std::chrono::steady_clock::time_point t) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    for (int s = 0; s < steps + warmup; ++s) {
      sync();
      const auto t0 = std::chrono::steady_clock::now();
      auto ids = data[s].to(device);
      opt.zero_grad();
      torch::Tensor logits;
      {
        AutocastGuard guard(device, autocast);
        logits = model.forward(ids.narrow(1, 0, seq), RopeInputs{positions, inv_freq, 1.0});
      }
      auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, vocab}).to(torch::kFloat32),
                                                       ids.narrow(1, 1, seq).reshape({-1}));
      sync();
      const double t_fwd = since(t0);
      loss.backward();
      sync();
      const double t_bwd = since(t0);
      torch::nn::utils::clip_grad_norm_(params, 1.0);
      opt.step();
      loss_v = loss.item<double>();
      const double dt = since(t0);
      if (s >= warmup) total += dt, fwd += t_fwd, bwd += t_bwd - t_fwd, upd += dt - t_bwd;
    }
    const double tokens_per_s = static_cast<double>(steps * batch * seq) / total;
    const double gflops = peak_tflops > 0 ? peak_tflops * 1000
                                          : measure_matmul_gflops(device.is_cuda() ? 8192 : 1024, 5, device,
                                                                  autocast ? torch::kBFloat16 : torch::kFloat32);
    nlohmann::json out = {{"impl", std::getenv("E2LLM_BENCH_DEFAULT_MALLOC") ? "cpp-default-malloc" : "cpp"},
                          {"device", describe_device(device.str())},
                          {"precision", autocast ? "bf16-autocast" : "float32"},
                          {"attention", attention},
                          {"params", n_params},
                          {"threads", threads},
                          {"batch", batch},
                          {"seq_len", seq},
                          {"steps", steps},
                          {"ms_per_step", 1000 * total / steps},
                          {"tokens_per_s", tokens_per_s},
                          {"matmul_gflops", gflops},
                          {"mfu_reference", peak_tflops > 0 ? "stated peak" : "measured matmul"},
                          {"forward_ms", 1000 * fwd / steps},
                          {"backward_ms", 1000 * bwd / steps},
                          {"update_ms", 1000 * upd / steps},
                          {"mfu", 6.0 * static_cast<double>(n_params) * tokens_per_s / (gflops * 1e9)},
                          {"peak_device_bytes", device_peak_bytes(device.str())},
                          {"final_loss", loss_v}};
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
