#include "e2llm/llama/torch_language_model.hpp"

#include <algorithm>

#include "e2llm/error.hpp"
#include "e2llm/formats/window_rule.hpp"
#include "e2llm/llama/batched_generation.hpp"
#include "e2llm/llama/device_torch.hpp"

namespace e2llm::llama {
namespace {

// An id outside the vocabulary would index past the embedding table: refuse it by name.
void check_ids(const char* what, const std::vector<int32_t>& ids, int64_t vocab_size) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      throw Error(std::string(what) + ": token " + std::to_string(i) + " has id " + std::to_string(ids[i]) +
                  ", outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
}

}  // namespace

TorchLanguageModel::TorchLanguageModel(std::shared_ptr<LlamaModel> model, formats::RopeConfig rope, int64_t window,
                                       std::shared_ptr<const Tokenizer> tokenizer, nlohmann::json extra,
                                       SelfExtendOptions self_extend)
    : model_(std::move(model)),
      rope_(rope),
      window_(window),
      tokenizer_(std::move(tokenizer)),
      extra_(std::move(extra)),
      self_extend_(self_extend) {
  if (!model_) throw Error("TorchLanguageModel: no model");
  if (window_ < 1) throw Error("TorchLanguageModel: window must be >= 1, got " + std::to_string(window_));
  if (rope_.head_dim != model_->config().head_dim())
    throw Error("TorchLanguageModel: RoPE head_dim " + std::to_string(rope_.head_dim) + " differs from the model's " +
                std::to_string(model_->config().head_dim()));
  formats::compute_rope(rope_, window_);  // validate now: a bad RoPE fails at open(), not mid-task
}

const Tokenizer& TorchLanguageModel::tokenizer() const {
  if (!tokenizer_) throw Error("this model was opened without a tokenizer; pass one to the backend's prepare()");
  return *tokenizer_;
}

std::vector<float> TorchLanguageModel::token_logprobs(const std::vector<int32_t>& ids, size_t score_from) {
  const int64_t T = static_cast<int64_t>(ids.size());
  if (T > window_)
    throw Error("token_logprobs: " + std::to_string(T) + " tokens exceed the window of " + std::to_string(window_));
  if (score_from < 1) throw Error("token_logprobs: score_from must be >= 1");
  check_ids("token_logprobs", ids, model_->config().vocab_size);
  if (score_from >= ids.size()) return {};
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  auto input = torch::tensor(ids64, torch::kLong).unsqueeze(0);
  RopeInputs rope = RopeInputs::make(frequencies(T), 1, T);
  rope.self_extend = self_extend_;
  auto hidden = model_->forward_hidden(input, rope).squeeze(0);  // [T, D]
  auto targets = input.squeeze(0);
  std::vector<float> out;
  out.reserve(ids.size() - score_from);
  // Row r of the logits predicts token r + 1.
  const int64_t rows = logprob_rows();
  for (int64_t r0 = static_cast<int64_t>(score_from) - 1; r0 < T - 1; r0 += rows) {
    const int64_t n = std::min(rows, T - 1 - r0);
    auto logp = torch::log_softmax(model_->project(hidden.narrow(0, r0, n)).to(torch::kFloat32), -1);
    auto picked = logp.gather(1, targets.narrow(0, r0 + 1, n).to(logp.device()).unsqueeze(1)).squeeze(1).cpu()
                      .contiguous();
    out.insert(out.end(), picked.data_ptr<float>(), picked.data_ptr<float>() + n);
  }
  return out;
}

namespace {

// generate()'s rules for one request; `what` names it in the message.
void check_generate(const std::string& what, const std::vector<int32_t>& prompt, const GenerationOptions& options,
                    int64_t vocab_size, int64_t window) {
  if (options.max_new_tokens < 0)
    throw Error(what + ": max_new_tokens must be >= 0, got " + std::to_string(options.max_new_tokens));
  if (prompt.empty()) throw Error(what + ": the prompt is empty (start with the BOS token)");
  check_ids(what.c_str(), prompt, vocab_size);
  const int64_t total = static_cast<int64_t>(prompt.size()) + options.max_new_tokens;
  if (total > window)
    throw Error(what + ": prompt (" + std::to_string(prompt.size()) + ") + max_new_tokens (" +
                std::to_string(options.max_new_tokens) + ") exceed the window of " + std::to_string(window));
}

}  // namespace

int64_t TorchLanguageModel::logprob_rows() const {
  return std::clamp<int64_t>(kLogitElements / std::max<int64_t>(1, model_->config().vocab_size), 1, kLogprobChunk);
}

std::vector<int32_t> TorchLanguageModel::generate(const std::vector<int32_t>& prompt,
                                                  const GenerationOptions& options) {
  check_generate("generate", prompt, options, model_->config().vocab_size, window_);
  const int64_t total = static_cast<int64_t>(prompt.size()) + options.max_new_tokens;
  return generate_tokens(*model_, prompt, frequencies(total), options, self_extend_);
}

std::vector<std::vector<int32_t>> TorchLanguageModel::generate_batch(const std::vector<GenerationRequest>& requests,
                                                                     const GenerationDone& done) {
  std::vector<GenerationJob> jobs;
  jobs.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    check_generate("generate_batch: request " + std::to_string(i), r.prompt, r.options, model_->config().vocab_size,
                   window_);
    const int64_t total = static_cast<int64_t>(r.prompt.size()) + r.options.max_new_tokens;
    jobs.push_back({r.prompt, frequencies(total), r.options});
  }
  if (self_extend_.enabled()) {
    // Self-Extend's grouped attention has no batched decoding step: one sequence at a time,
    // each exactly as generate() runs it (all requests were checked above).
    std::vector<std::vector<int32_t>> out(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      out[i] = generate_tokens(*model_, jobs[i].prompt, jobs[i].rope, jobs[i].options, self_extend_);
      if (done) done(i, out[i]);
    }
    return out;
  }
  return BatchedGenerator(*model_, batch_size()).run(jobs, done);
}

int64_t TorchLanguageModel::batch_size() const {
  if (self_extend_.enabled()) return 1;  // generate_batch decodes one sequence at a time then
  if (batch_size_ > 0) return batch_size_;
  const auto& o = model_->options();
  const int64_t element_bytes = static_cast<int64_t>(c10::elementSize(o.dtype));
  return default_batch_size(model_->config(), window_, element_bytes, device_available_bytes(o.device.str()));
}

void TorchLanguageModel::set_batch_size(int64_t batch_size) {
  if (batch_size < 0)
    throw Error("batch_size must be >= 0 (0 = chosen from memory), got " + std::to_string(batch_size));
  batch_size_ = batch_size;
}

nlohmann::json TorchLanguageModel::describe() const {
  const auto& m = *model_;
  nlohmann::json j = {
      {"rope", rope_.to_json()},
      {"g", formats::served_scale(rope_)},  // the scale served: 1 for plain RoPE
      {"window", window_},
      {"rope_layout", m.config().rope_layout},
      {"checkpoint", {{"fingerprint", m.fingerprint}, {"source", m.source}, {"format", m.format}}},
      {"dtype", std::string(c10::toString(m.options().dtype))},
      {"device", describe_device(m.options().device.str())},
      {"threads", torch::get_num_threads()},
      {"batch_size", {{"value", batch_size()}, {"rule", batch_size_ > 0 ? "configured" : "from free memory"}}},
      {"attention",
       {{"kernel", attention_kernel_config_name(m.options().attention.kernel)},
        {"query_block", m.options().attention.query_block},
        {"key_block", m.options().attention.key_block}}},
      {"dynamic_ntk_policy", "base fixed per call from the final length (generate) or ids.size() (token_logprobs)"},
  };
  if (rope_.type != formats::RopeType::DynamicNtk) j.erase("dynamic_ntk_policy");
  if (self_extend_.enabled()) {
    j["self_extend"] = self_extend_.to_json();
    j["self_extend"]["max_relative_position"] = self_extend_.max_relative_position(window_);
    j["attention"]["kernel"] = "self-extend (blocked)";
  }
  for (const auto& [k, v] : extra_.items()) j[k] = v;
  return j;
}

}  // namespace e2llm::llama
