// "pi-ft": Position Interpolation with fine-tuning (Chen et al. 2023), the expensive
// baseline E²-LLM is compared with: prepare() fine-tunes one model per window W > L in the
// sweep's windows, on sequences of length W with g = W/L fixed (ceil rule by default);
// open(W) serves W's model with the same g.
#include "e2llm/llama/train/training_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

using namespace e2llm::llama::train;

class PiFtBackend : public TrainingBackend {
 public:
  PiFtBackend()
      : TrainingBackend("pi-ft", "PI fine-tuned per window: g = W/L fixed, trained on length-W sequences",
                        PolicyKind::Pi, TrainingMode::PerWindow) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "pi-ft", "0.1.0", PiFtBackend)
