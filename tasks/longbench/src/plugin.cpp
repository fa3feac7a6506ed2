// The shared library's only export: the LongBench task.
#include "e2llm/plugin.hpp"
#include "e2llm/longbench/longbench_task.hpp"

E2LLM_PLUGIN("task", "longbench", "1.0.0", e2llm::longbench::LongBenchTask)
