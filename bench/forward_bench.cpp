// Forward throughput and peak memory of LlamaModel at one window, in a fresh process:
//   forward_bench MODEL WINDOW [--threads N] [--block B] [--repeats R] [--scale S]
//                 [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16] [--attention fused|blocked]
//                 [--self-extend G,w]
// Prints one JSON line. RoPE: Position Interpolation with s = W / L (L = the model's
// trained window) unless --scale is given; with --self-extend, plain RoPE and Self-Extend's
// grouped attention (group G, neighbour window w; docs/methods.md §Self-Extend). bench/run_forward.sh runs it per
// window next to forward_twin.py (the same forward in Python PyTorch).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "bench_cli.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/device_torch.hpp"
#include "e2llm/llama/model.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;

int main(int argc, char** argv) {
  std::string path;
  int64_t window = 0;
  int threads = 0, repeats = 0;
  int64_t block = 512;
  double scale = 0.0;
  SelfExtendOptions self_extend;
  std::string device_name = "cpu", dtype = "float32", attention = "fused", self_extend_text;
  CLI::App app("Forward throughput and peak memory of LlamaModel at one window; prints one JSON line", "forward_bench");
  app.add_option("MODEL", path, "GGUF file or Hugging Face folder")->required();
  app.add_option("WINDOW", window, "tokens in the forward")->required()->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "CPU threads (0: all)")->capture_default_str();
  app.add_option("--block", block, "attention query/key block")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "timed forwards (0: 5 at W <= 2048, 2 at W <= 8192, else 1)")
      ->capture_default_str();
  app.add_option("--scale", scale, "RoPE scale s (0: W / L)")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--device", device_name, "cpu | cuda | cuda:N")->capture_default_str();
  app.add_option("--dtype", dtype, "float32 | bfloat16")
      ->capture_default_str()
      ->check(CLI::IsMember({"float32", "bfloat16"}));
  app.add_option("--attention", attention, "fused | blocked")
      ->capture_default_str()
      ->check(CLI::IsMember({"fused", "blocked"}));
  app.add_option("--self-extend", self_extend_text, "G,w: Self-Extend's group and neighbour window");
  if (const auto code = e2llm::bench::parse_command_line(app, argc, argv)) return *code;
  if (!self_extend_text.empty()) {
    const auto comma = self_extend_text.find(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      self_extend = {std::stoll(self_extend_text.substr(0, comma)), std::stoll(self_extend_text.substr(comma + 1))};
    } catch (const std::exception&) {
      std::cerr << "forward_bench: --self-extend takes G,w (two whole numbers), not " << self_extend_text << "\n";
      return 2;
    }
  }
  try {
    const int used_threads = set_threads(threads);
    ModelOptions options;
    options.device = to_torch_device(device_name);
    options.dtype = to_torch_dtype(dtype);
    options.attention.kernel = parse_attention_kernel(attention);
    options.attention.query_block = options.attention.key_block = block;
    const auto sync = [&] {
      if (options.device.is_cuda()) torch::cuda::synchronize(options.device.index());
    };
    reset_device_peak(options.device.str());
    auto model = load_model(formats::load_checkpoint(path), options);
    const int64_t L = model->config().rope.original_max_position > 0 ? model->config().rope.original_max_position
                                                                       : model->config().max_position;
    formats::RopeConfig rope = model->config().rope;
    rope.type = formats::RopeType::Linear;
    rope.factor = scale > 0 ? scale : std::max(1.0, static_cast<double>(window) / static_cast<double>(L));
    if (self_extend.enabled()) rope.factor = 1.0;  // Self-Extend keeps the model's own RoPE
    auto freq = formats::compute_rope(rope, window);
    if (repeats <= 0) repeats = window <= 2048 ? 5 : window <= 8192 ? 2 : 1;
    torch::NoGradGuard no_grad;
    torch::manual_seed(0);
    auto ids = torch::randint(0, model->config().vocab_size, {1, window}, torch::kLong);
    auto inputs = RopeInputs::make(freq, 1, window);
    inputs.self_extend = self_extend;
    // One untimed warm-up below 16k tokens; above, the first run is timed (it takes minutes).
    const int warmup = window < 16384 ? 1 : 0;
    torch::Tensor logits;
    double best = 1e30;
    for (int r = 0; r < warmup + repeats; ++r) {
      sync();
      auto t0 = std::chrono::steady_clock::now();
      logits = model->forward(ids, inputs);
      sync();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r >= warmup) best = std::min(best, s);
    }
    const double checksum = logits[0][-1].to(torch::kFloat64).sum().item<double>();  // the twin must print the same
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    std::printf(
        "{\"impl\": \"cpp\", \"window\": %lld, \"scale\": %.6g, \"threads\": %d, \"block\": %lld, \"repeats\": %d, "
        "\"seconds\": %.6f, \"tokens_per_s\": %.3f, \"max_rss_mib\": %.1f, \"checksum\": %.6f, \"device\": \"%s\", "
        "\"dtype\": \"%s\", \"attention\": \"%s\", \"peak_device_mib\": %.1f, \"self_extend\": [%lld, %lld]}\n",
        static_cast<long long>(window), rope.factor, used_threads, static_cast<long long>(block), repeats, best,
        static_cast<double>(window) / best, static_cast<double>(usage.ru_maxrss) / 1024.0, checksum,
        options.device.str().c_str(), dtype.c_str(), attention.c_str(),
        static_cast<double>(device_peak_bytes(options.device.str())) / (1024.0 * 1024.0),
        static_cast<long long>(self_extend.group), static_cast<long long>(self_extend.window));
  } catch (const std::exception& e) {
    std::cerr << "forward_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
