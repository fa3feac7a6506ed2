// "yarn": YaRN (Peng et al. 2023) with s = g: NTK-by-parts ramp between interpolated and
// original frequencies (beta_fast, beta_slow) and cos/sin scaled by 0.1 ln s + 1 unless
// attention_factor is set (METHODS.md §2). No training.
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class YarnBackend : public e2llm::llama::RopeScalingBackend {
 public:
  YarnBackend() : RopeScalingBackend("yarn", "YaRN: NTK-by-parts interpolation with attention scaling, s = g") {}

 protected:
  e2llm::llama::RopeConfig rope_for_window(int64_t window) const override {
    auto rope = base_rope();
    rope.type = e2llm::llama::RopeType::Yarn;
    rope.factor = scale_for_window(window);
    return rope;
  }
};

}  // namespace

E2LLM_PLUGIN("backend", "yarn", "0.1.0", YarnBackend)
