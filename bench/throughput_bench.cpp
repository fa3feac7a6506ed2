// Evaluation throughput of one model in one mode, in a fresh process; prints one JSON line.
//   throughput_bench MODEL prefill  --window W                 [common]
//   throughput_bench MODEL decode   --batch B --tokens N [--prompt P] [common]
//   throughput_bench MODEL logprobs --window W                 [common]
//   common: --threads N (0 = all cores) --repeats R --attention fused|blocked --weights float|int8
// prefill: one forward over W random ids and the last position's logits (what llama-bench's
//   pp test computes); tokens/s = W / best time.
// decode: B sequences of P random ids (default 1) generate N tokens each without stopping,
//   together (TorchLanguageModel::generate_batch, batch size B); the prefill is taken out by
//   timing N + 1 and 1 new tokens: tokens/s = B·N / (t(N + 1) − t(1)). llama-bench's tg test
//   is the B = 1, P = 1 case.
// logprobs: TorchLanguageModel::token_logprobs over W ids (the perplexity path, chunked).
// Memory: peak_rss_mib is the process's high-water mark after the model was loaded and the
// mark reset (/proc/self/clear_refs), so it is what the measured call added on top of
// rss_after_load_mib, plus that.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "bench_cli.hpp"
#include "e2llm/formats/checkpoint.hpp"
#include "e2llm/llama/device_torch.hpp"
#include "e2llm/llama/model.hpp"
#include "e2llm/llama/torch_language_model.hpp"

using namespace e2llm::llama;
namespace formats = e2llm::formats;

namespace {

double status_mib(const std::string& key) {  // VmRSS / VmHWM from /proc/self/status, in MiB
  std::ifstream in("/proc/self/status");
  std::string k;
  long long kib = 0;
  std::string unit;
  while (in >> k) {
    if (k == key + ":") {
      in >> kib;
      return static_cast<double>(kib) / 1024.0;
    }
    std::getline(in, unit);
  }
  return -1;
}

void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

template <class F>
double best_seconds(int repeats, int warmup, F&& f) {
  double best = 1e30;
  for (int r = 0; r < warmup + repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r >= warmup) best = std::min(best, s);
  }
  return best;
}

std::vector<int32_t> random_ids(int64_t n, int64_t vocab, int64_t seed) {
  torch::manual_seed(seed);
  auto t = torch::randint(0, vocab, {n}, torch::kLong);
  std::vector<int32_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>(t[i].item<int64_t>());
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, mode;
  int64_t window = 512, batch = 1, tokens = 128, prompt = 1;
  int threads = 0, repeats = 0;
  std::string attention = "fused", weights = "float";
  CLI::App app("Prefill, decode or scoring throughput of a model on LibTorch; prints one JSON line",
               "throughput_bench");
  app.add_option("MODEL", path, "GGUF file or Hugging Face folder")->required();
  app.add_option("MODE", mode, "prefill | decode | logprobs")
      ->required()
      ->check(CLI::IsMember({"prefill", "decode", "logprobs"}));
  app.add_option("--window", window, "prefill / scored tokens")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "sequences decoded together")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--tokens", tokens, "tokens decoded per sequence")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--prompt", prompt, "prompt tokens before decoding")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "CPU threads (0: all)")->capture_default_str();
  app.add_option("--repeats", repeats, "timed runs (0: by mode and window, 1 to 5)")->capture_default_str();
  app.add_option("--attention", attention, "fused | blocked")
      ->capture_default_str()
      ->check(CLI::IsMember({"fused", "blocked"}));
  app.add_option("--weights", weights, "float | int8")->capture_default_str()->check(CLI::IsMember({"float", "int8"}));
  if (const auto code = e2llm::bench::parse_command_line(app, argc, argv)) return *code;
  try {
    const int used_threads = set_threads(threads);
    ModelOptions options;
    options.attention.kernel = parse_attention_kernel(attention);
    options.weights = parse_weight_storage(weights);
    auto t_load = std::chrono::steady_clock::now();
    auto model = load_model(formats::load_checkpoint(path), options);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();
    const int64_t vocab = model->config().vocab_size;
    torch::NoGradGuard no_grad;
    const double rss_after_load = status_mib("VmRSS");
    reset_peak_rss();
    double seconds = 0, tokens_per_s = 0;
    int64_t counted = 0;
    if (mode == "prefill") {
      if (repeats <= 0) repeats = window <= 2048 ? 5 : window <= 8192 ? 2 : 1;
      const auto ids = random_ids(window, vocab, 0);
      auto input = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), torch::kLong).unsqueeze(0);
      const auto rope = RopeInputs::make(formats::compute_rope(model->config().rope, window), 1, window);
      seconds = best_seconds(repeats, window < 16384 ? 1 : 0, [&] {
        auto hidden = model->forward_hidden(input, rope);
        auto last = model->project(hidden.select(1, window - 1));
        (void)last.sum().item<double>();
      });
      counted = window;
    } else if (mode == "decode") {
      if (repeats <= 0) repeats = 2;
      window = prompt + tokens + 1;
      TorchLanguageModel lm(model, model->config().rope, window, nullptr);
      lm.set_batch_size(batch);
      std::vector<e2llm::GenerationRequest> requests;
      for (int64_t b = 0; b < batch; ++b) requests.push_back({random_ids(prompt, vocab, 1 + b), {}});
      auto run = [&](int64_t n) {
        for (auto& r : requests) r.options.max_new_tokens = static_cast<int32_t>(n);
        return best_seconds(repeats, 1, [&] { lm.generate_batch(requests, {}); });
      };
      seconds = run(tokens + 1) - run(1);
      counted = batch * tokens;
    } else {
      if (repeats <= 0) repeats = window <= 2048 ? 3 : 1;
      TorchLanguageModel lm(model, model->config().rope, window, nullptr);
      const auto ids = random_ids(window, vocab, 0);
      seconds = best_seconds(repeats, 0, [&] { lm.token_logprobs(ids, 1); });
      counted = window;
    }
    tokens_per_s = static_cast<double>(counted) / seconds;
    std::printf(
        "{\"impl\": \"e2llm\", \"mode\": \"%s\", \"window\": %lld, \"batch\": %lld, \"tokens\": %lld, \"prompt\": "
        "%lld, "
        "\"threads\": %d, \"attention\": \"%s\", \"weights\": \"%s\", \"repeats\": %d, \"seconds\": %.6f, "
        "\"tokens_per_s\": %.3f, \"load_s\": %.3f, \"rss_after_load_mib\": %.1f, \"peak_rss_mib\": %.1f}\n",
        mode.c_str(), static_cast<long long>(window), static_cast<long long>(batch), static_cast<long long>(tokens),
        static_cast<long long>(prompt), used_threads, attention.c_str(), weights.c_str(), repeats, seconds,
        tokens_per_s, load_s, rss_after_load, status_mib("VmHWM"));
  } catch (const std::exception& e) {
    std::cerr << "throughput_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
