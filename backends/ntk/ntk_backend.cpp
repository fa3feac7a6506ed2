// "ntk": static NTK-aware scaling, base' = b * s^(d/(d-2)) with s = g (docs/methods.md §Baselines).
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class NtkBackend : public e2llm::llama::RopeTypeBackend {
 public:
  NtkBackend()
      : RopeTypeBackend("ntk", "static NTK-aware RoPE base scaling with s = g, no training",
                        e2llm::formats::RopeType::Ntk) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "ntk", "0.1.0", NtkBackend)
