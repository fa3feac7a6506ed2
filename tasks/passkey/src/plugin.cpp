// The entry point of libe2llm_task_passkey.so.
#include "e2llm/plugin.hpp"
#include "passkey_task.hpp"

E2LLM_PLUGIN("task", "passkey", "1.0.0", e2llm::passkey::PasskeyTask)
