// "none": plain RoPE at every window (extrapolation beyond the trained window L).
#include "e2llm/llama/rope_scaling_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

class NoneBackend : public e2llm::llama::RopeScalingBackend {
 public:
  NoneBackend() : RopeScalingBackend("none", "plain RoPE, no scaling (extrapolation past the trained window)") {}

 protected:
  e2llm::formats::RopeConfig rope_for_window(int64_t /*window*/) const override { return base_rope(); }
};

}  // namespace

E2LLM_PLUGIN("backend", "none", "0.1.0", NoneBackend)
