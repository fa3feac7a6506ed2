// "pretrain": a base model trained from scratch at window L with plain RoPE (g = 1, t = 0),
// through the same trainer as E²-LLM. Config: a `model` table {dim, layers, heads, kv_heads,
// ffn, window} (vocabulary from the tokenizer), `corpus`, `steps`, ... Served with plain RoPE.
#include "e2llm/llama/train/training_backend.hpp"
#include "e2llm/plugin.hpp"

namespace {

using namespace e2llm::llama::train;

class PretrainBackend : public TrainingBackend {
 public:
  PretrainBackend()
      : TrainingBackend("pretrain", "Pretraining from scratch at window L with plain RoPE (g = 1, t = 0)",
                        PolicyKind::Plain, TrainingMode::Once, /*default_random_init=*/true) {}
};

}  // namespace

E2LLM_PLUGIN("backend", "pretrain", "0.1.0", PretrainBackend)
