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
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_cli.hpp"
#include "e2llm/llama/device_torch.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/train/trainer.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;

namespace {

struct BenchOptions {
  int threads = 2, steps = 10, warmup = 2;
  int64_t batch = 8, seq = 256, dim = 256, layers = 6, heads = 8, kv_heads = 8, ffn = 688, vocab = 512;
  std::string device_name = "cpu", precision = "float32", attention = "fused";
  double peak_tflops = 0;
};

// The options (CLI11): --help lists them with their defaults; an unknown option, a missing
// value or a value that is not a number is one line and exit 2.
void add_options(CLI::App& app, BenchOptions& o) {
  app.add_option("--threads", o.threads, "CPU threads")->capture_default_str();
  app.add_option("--steps", o.steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--batch", o.batch, "sequences per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seq", o.seq, "sequence length R")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--dim", o.dim, "model width")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--layers", o.layers, "layers")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--heads", o.heads, "attention heads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--kv-heads", o.kv_heads, "key/value heads")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--ffn", o.ffn, "MLP width")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--vocab", o.vocab, "vocabulary size")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--device", o.device_name, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--precision", o.precision, "float32 | bf16-autocast")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bf16-autocast"}));
  app.add_option("--attention", o.attention, "fused | blocked")
      ->capture_default_str()
      ->check(CLI::IsMember({"fused", "blocked"}));
  app.add_option("--peak-tflops", o.peak_tflops, "the device's peak for MFU (0: measure a matmul here)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
}

formats::ModelConfig model_config(const BenchOptions& o) {
  formats::ModelConfig c;
  c.dim = o.dim, c.n_layers = o.layers, c.n_heads = o.heads, c.n_kv_heads = o.kv_heads, c.hidden_dim = o.ffn,
  c.vocab_size = o.vocab;
  c.max_position = o.seq;
  c.rope.head_dim = o.dim / o.heads;
  c.rope.original_max_position = o.seq;
  return c;
}

// The trainer's AdamW: weight decay on matrices only.
std::unique_ptr<torch::optim::AdamW> make_optimizer(LlamaModel& model) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model.parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  auto base = torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay,
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(base).weight_decay(0.1)));
  groups.emplace_back(no_decay,
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(base).weight_decay(0.0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), base);
}

// Seconds summed over the measured steps (warmup excluded), by phase.
struct StepTimes {
  double total = 0, fwd = 0, bwd = 0, upd = 0;
  double final_loss = 0;
};

StepTimes run_steps(const BenchOptions& o, const formats::ModelConfig& c, LlamaModel& model,
                    torch::optim::Optimizer& opt, const torch::Device& device, bool autocast) {
  const int64_t batch = o.batch, seq = o.seq, vocab = o.vocab;
  const auto f = formats::compute_rope(c.rope);
  auto inv_freq = torch::tensor(f.inv_freq, torch::kFloat64);
  auto positions = torch::arange(seq, torch::kFloat64).unsqueeze(0).expand({batch, seq}).contiguous();
  auto params = model.parameters();
  auto data = torch::randint(vocab, {o.steps + o.warmup, batch, seq + 1}, torch::kLong);
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
  };
  reset_device_peak(device.str());

  StepTimes times;
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  for (int s = 0; s < o.steps + o.warmup; ++s) {
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
    times.final_loss = loss.item<double>();
    const double dt = since(t0);
    if (s >= o.warmup) times.total += dt, times.fwd += t_fwd, times.bwd += t_bwd - t_fwd, times.upd += dt - t_bwd;
  }
  return times;
}

nlohmann::json result_json(const BenchOptions& o, const torch::Device& device, bool autocast, int64_t n_params,
                           const StepTimes& t) {
  const int steps = o.steps;
  const double tokens_per_s = static_cast<double>(steps * o.batch * o.seq) / t.total;
  const double gflops = o.peak_tflops > 0 ? o.peak_tflops * 1000
                                          : measure_matmul_gflops(device.is_cuda() ? 8192 : 1024, 5, device,
                                                                  autocast ? torch::kBFloat16 : torch::kFloat32);
  return {{"impl", std::getenv("E2LLM_BENCH_DEFAULT_MALLOC") ? "cpp-default-malloc" : "cpp"},
          {"device", describe_device(device.str())},
          {"precision", autocast ? "bf16-autocast" : "float32"},
          {"attention", o.attention},
          {"params", n_params},
          {"threads", o.threads},
          {"batch", o.batch},
          {"seq_len", o.seq},
          {"steps", steps},
          {"ms_per_step", 1000 * t.total / steps},
          {"tokens_per_s", tokens_per_s},
          {"matmul_gflops", gflops},
          {"mfu_reference", o.peak_tflops > 0 ? "stated peak" : "measured matmul"},
          {"forward_ms", 1000 * t.fwd / steps},
          {"backward_ms", 1000 * t.bwd / steps},
          {"update_ms", 1000 * t.upd / steps},
          {"mfu", 6.0 * static_cast<double>(n_params) * tokens_per_s / (gflops * 1e9)},
          {"peak_device_bytes", device_peak_bytes(device.str())},
          {"final_loss", t.final_loss}};
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app("Training-step throughput of the LibTorch trainer on a random-weight Llama; prints one JSON line",
               "train_bench");
  add_options(app, o);
  if (const auto code = e2llm::bench::parse_command_line(app, argc, argv)) return *code;
  try {
    set_threads(o.threads);
    // The trainer's allocator setting (trainer.hpp); E2LLM_BENCH_DEFAULT_MALLOC=1 measures without it.
    if (!std::getenv("E2LLM_BENCH_DEFAULT_MALLOC")) e2llm::llama::train::tune_cpu_allocator();
    const torch::Device device = to_torch_device(o.device_name);
    const bool autocast = use_bf16_autocast(o.precision, device);
    const formats::ModelConfig c = model_config(o);
    torch::manual_seed(0);
    ModelOptions mo;
    mo.device = device;
    mo.attention.kernel = parse_attention_kernel(o.attention);
    mo.attention.query_block = mo.attention.key_block = 256;
    LlamaModel model(c, mo);
    int64_t n_params = 0;
    for (const auto& p : model.parameters()) n_params += p.numel();
    const auto opt = make_optimizer(model);
    const StepTimes times = run_steps(o, c, model, *opt, device, autocast);
    std::printf("%s\n", result_json(o, device, autocast, n_params, times).dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
