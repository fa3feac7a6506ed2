#include "e2llm/llama/batched_generation.hpp"

#include <algorithm>
#include <random>

#include "e2llm/error.hpp"

namespace e2llm::llama {

using torch::Tensor;

struct BatchedGenerator::Sequence {
  size_t job = 0;
  const GenerationOptions* options = nullptr;
  KVCache cache;
  std::mt19937_64 rng;
  std::vector<int32_t> out;
  Tensor inv_freq;  // float64 [d/2]
  double attention_factor = 1.0;
};

BatchedGenerator::BatchedGenerator(LlamaModel& model, int64_t slots)
    : model_(model), slots_(std::max<int64_t>(1, slots)) {}

namespace {

std::vector<float> row_of(const Tensor& logits) {
  auto row = logits.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
}

bool is_stop(const GenerationOptions& options, int32_t token) {
  return std::find(options.stop_tokens.begin(), options.stop_tokens.end(), token) != options.stop_tokens.end();
}

}  // namespace

bool BatchedGenerator::start(const GenerationJob& job, Sequence& seq) {
  const auto& options = job.options;
  seq.options = &options;
  seq.rng = std::mt19937_64(options.seed);
  seq.out.clear();
  if (options.max_new_tokens <= 0) return false;
  // The prefill generate_tokens runs: the same forward, cache and sampling.
  const int64_t T = static_cast<int64_t>(job.prompt.size());
  seq.cache.reserve(T + options.max_new_tokens);
  std::vector<int64_t> ids(job.prompt.begin(), job.prompt.end());
  auto input = torch::tensor(ids, torch::kLong).unsqueeze(0);
  auto rope = RopeInputs::make(job.rope, 1, T, 0);
  seq.inv_freq = rope.inv_freq;
  seq.attention_factor = rope.attention_factor;
  auto hidden = model_.forward_hidden(input, rope, &seq.cache);
  const int32_t next = sample_token(row_of(model_.project(hidden.select(1, T - 1)).squeeze(0)), options.temperature,
                                    options.top_p, seq.rng);
  if (is_stop(options, next)) return false;
  seq.out.push_back(next);
  return static_cast<int32_t>(seq.out.size()) < options.max_new_tokens;
}

void BatchedGenerator::step(std::vector<Sequence>& active) {
  const int64_t B = static_cast<int64_t>(active.size());
  const auto device = model_.options().device;
  std::vector<int64_t> ids(B);
  std::vector<double> positions(B), factors(B);
  std::vector<Tensor> inv(B);
  for (int64_t b = 0; b < B; ++b) {
    ids[b] = active[b].out.back();
    positions[b] = static_cast<double>(active[b].cache.length_);  // the new token's index
    factors[b] = active[b].attention_factor;
    inv[b] = active[b].inv_freq;
  }
  // Each row's tables as rope_tables makes them for one sequence (the same float64 products).
  auto pos = torch::tensor(positions, torch::kFloat64).view({B, 1, 1}).to(device);
  auto angles = pos * torch::stack(inv).to(device).view({B, 1, -1});  // [B, 1, d/2]
  auto factor = torch::tensor(factors, torch::kFloat64).view({B, 1, 1}).to(device);
  const auto dtype = model_.options().dtype;
  auto cos = (torch::cos(angles) * factor).to(dtype).unsqueeze(1);  // [B, 1, 1, d/2]
  auto sin = (torch::sin(angles) * factor).to(dtype).unsqueeze(1);

  const auto& attention_options = model_.options().attention;
  auto attend = [&](int64_t l, const Tensor& q, const Tensor& k, const Tensor& v) {
    std::vector<Tensor> outs(B);
    for (int64_t b = 0; b < B; ++b) {
      KVCache& c = active[b].cache;
      const int64_t len = c.length_;
      if (len + 1 > c.capacity()) throw Error("batched generation: a KV cache is full (internal error)");
      c.keys_[l].narrow(2, len, 1).copy_(k.narrow(0, b, 1));
      c.values_[l].narrow(2, len, 1).copy_(v.narrow(0, b, 1));
      outs[b] = attention(q.narrow(0, b, 1), c.keys_[l].narrow(2, 0, len + 1), c.values_[l].narrow(2, 0, len + 1),
                          attention_options);
    }
    return B == 1 ? outs[0] : torch::cat(outs, 0);
  };
  auto hidden = model_.forward_step(torch::tensor(ids, torch::kLong).view({B, 1}), cos, sin, attend);
  auto logits = model_.project(hidden.select(1, 0)).to(torch::kCPU, torch::kFloat32).contiguous();  // [B, V]
  const int64_t V = logits.size(1);
  for (int64_t b = 0; b < B; ++b) {
    Sequence& s = active[b];
    ++s.cache.length_;
    const float* row = logits.data_ptr<float>() + b * V;
    const int32_t next =
        sample_token(std::vector<float>(row, row + V), s.options->temperature, s.options->top_p, s.rng);
    if (is_stop(*s.options, next)) {
      s.options = nullptr;  // finished
      continue;
    }
    s.out.push_back(next);
    if (static_cast<int32_t>(s.out.size()) >= s.options->max_new_tokens) s.options = nullptr;
  }
}

std::vector<std::vector<int32_t>> BatchedGenerator::run(const std::vector<GenerationJob>& jobs,
                                                        const GenerationDone& done) {
  for (size_t i = 0; i < jobs.size(); ++i)
    if (jobs[i].prompt.empty()) throw Error("generate_batch: request " + std::to_string(i) + " has an empty prompt");
  torch::NoGradGuard no_grad;
  std::vector<std::vector<int32_t>> results(jobs.size());
  auto finish = [&](Sequence& s) {
    results[s.job] = std::move(s.out);
    if (done) done(s.job, results[s.job]);
  };
  std::vector<Sequence> active;
  size_t next_job = 0;
  while (next_job < jobs.size() || !active.empty()) {
    while (static_cast<int64_t>(active.size()) < slots_ && next_job < jobs.size()) {
      Sequence s;
      s.job = next_job++;
      if (start(jobs[s.job], s))
        active.push_back(std::move(s));
      else
        finish(s);
    }
    if (active.empty()) continue;
    step(active);
    // Finished sequences leave; their caches are freed with them.
    std::vector<Sequence> still;
    for (auto& s : active) {
      if (s.options == nullptr)
        finish(s);
      else
        still.push_back(std::move(s));
    }
    active = std::move(still);
  }
  return results;
}

int64_t kv_cache_bytes(const formats::ModelConfig& config, int64_t tokens, int64_t element_bytes) {
  return 2 * config.n_layers * config.n_kv_heads * config.head_dim() * tokens * element_bytes;
}

int64_t default_batch_size(const formats::ModelConfig& config, int64_t window, int64_t element_bytes,
                           long long available_bytes) {
  if (available_bytes < 0) return 1;
  const int64_t per_sequence = std::max<int64_t>(1, kv_cache_bytes(config, window, element_bytes));
  return std::clamp<int64_t>(available_bytes / 4 / per_sequence, 1, kMaxAutoBatch);
}

}  // namespace e2llm::llama
