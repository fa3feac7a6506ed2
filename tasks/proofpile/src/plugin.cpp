// The entry point of libe2llm_task_proofpile.so.
#include "e2llm/plugin.hpp"
#include "proofpile_task.hpp"

E2LLM_PLUGIN("task", "proofpile", "1.0.0", e2llm::proofpile::ProofPileTask)
