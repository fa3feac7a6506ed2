// "dynamic-ntk": Hugging Face dynamic NTK. The base depends on the current length n:
// b * ((s*n/L) - (s-1))^(d/(d-2)) for n > L, plain RoPE for n <= L (docs/methods.md §Baselines).
// The factor s is g = ceil(W/L) by default (how HF users usually set `factor` for a target
// window), or the `factor` key for a fixed s. token_logprobs uses n = the sequence length;
// generate fixes n to the call's final length so cached keys and queries share one base.
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class DynamicNtkBackend : public e2llm::llama::RopeTypeBackend {
 public:
  DynamicNtkBackend()
      : RopeTypeBackend("dynamic-ntk", "dynamic NTK (HF semantics): base grows with the sequence length",
                        e2llm::formats::RopeType::DynamicNtk) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "dynamic-ntk", "0.1.0", DynamicNtkBackend)
