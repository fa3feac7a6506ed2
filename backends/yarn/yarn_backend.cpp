// "yarn": YaRN (Peng et al. 2023) with s = g: NTK-by-parts ramp between interpolated and
// original frequencies (beta_fast, beta_slow) and cos/sin scaled by 0.1 ln s + 1 unless
// attention_factor is set (docs/methods.md §Baselines). No training.
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class YarnBackend : public e2llm::llama::RopeTypeBackend {
 public:
  YarnBackend()
      : RopeTypeBackend("yarn", "YaRN: NTK-by-parts interpolation with attention scaling, s = g",
                        e2llm::formats::RopeType::Yarn) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "yarn", "0.1.0", YarnBackend)
