// "e2llm": E²-LLM (Liu et al. 2024, arXiv 2401.06951; docs/methods.md §E²-LLM). prepare() fine-tunes
// ONCE on length-R sequences with the scale/offset augmentation (g ~ U{1..Gmax}, offset t
// after a 4-token sink); open(W) serves the one model with t = 0 and g = W / L (ceil rule by
// default, `factor_rule = "exact"` for W/L). With `policy = "plain"` and `init = "random"`
// the same backend pretrains a base model from scratch (see the "pretrain" plugin).
#include "e2llm/llama/train/training_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

using namespace e2llm::llama::train;

class E2llmBackend : public TrainingBackend {
 public:
  E2llmBackend()
      : TrainingBackend("e2llm", "E²-LLM: one fine-tuning with random RoPE scale g and offset t; g = W/L at inference",
                        PolicyKind::E2, TrainingMode::Once) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "e2llm", "0.1.0", E2llmBackend)
