// "pose": PoSE (Zhu et al. 2023, arXiv 2309.10400; docs/methods.md §PoSE). prepare()
// fine-tunes ONCE on length-R sequences (R = L by default) whose positions skip toward a
// target window L_t: the R tokens are cut into `chunks` chunks (2), chunk i keeps consecutive
// positions shifted by a skip bias u_i (u_0 = 0 ≤ u_1 ≤ … ≤ L_t − R, each drawn uniformly
// above the previous one), and the positions are divided by s = L_t / L (PI, the paper's
// code's default). open(W) serves every window with that one s, as the paper's code
// evaluates. Keys: target_window (L_t; default the sweep's largest window), chunks, and the
// training keys of every trained backend (docs/training.md).
#include "e2llm/llama/train/training_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

using namespace e2llm::llama::train;

class PoseBackend : public TrainingBackend {
 public:
  PoseBackend()
      : TrainingBackend("pose", "PoSE: one fine-tuning on skip-wise chunked positions up to L_t; PI at L_t/L served",
                        PolicyKind::Pose, TrainingMode::Once) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "pose", "0.1.0", PoseBackend)
