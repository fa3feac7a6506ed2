// "pi": Position Interpolation (Chen et al. 2023): positions / s with s = g = ceil(W/L)
// (or W/L with factor_rule = "exact"); s = 1 for W <= L. docs/methods.md §Baselines (linear).
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class PiBackend : public e2llm::llama::RopeTypeBackend {
 public:
  PiBackend()
      : RopeTypeBackend("pi", "Position Interpolation: positions divided by s = g, no training",
                        e2llm::formats::RopeType::Linear) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "pi", "0.1.0", PiBackend)
