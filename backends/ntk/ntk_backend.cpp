// "ntk": static NTK-aware scaling, base' = b * s^(d/(d-2)) with s = g (METHODS.md §2).
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class NtkBackend : public e2llm::llama::RopeScalingBackend {
 public:
  NtkBackend() : RopeScalingBackend("ntk", "static NTK-aware RoPE base scaling with s = g, no training") {}

 protected:
  e2llm::llama::RopeConfig rope_for_window(int64_t window) const override {
    auto rope = base_rope();
    rope.type = e2llm::llama::RopeType::Ntk;
    rope.factor = scale_for_window(window);
    return rope;
  }
};

}  // namespace

E2LLM_PLUGIN("backend", "ntk", "0.1.0", NtkBackend)
