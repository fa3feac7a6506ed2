// The entry point of libe2llm_task_kv_retrieval.so.
#include "e2llm/plugin.hpp"
#include "kv_task.hpp"

E2LLM_PLUGIN("task", "kv-retrieval", "1.0.0", e2llm::kv_retrieval::KvRetrievalTask)
