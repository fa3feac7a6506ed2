// A minimal task used only to test the registry (loading, listing, creating, unloading).
#include "e2llm/plugin.hpp"
#include "e2llm/task.hpp"

namespace {
class RegistryProbeTask final : public e2llm::Task {
 public:
  e2llm::TaskInfo info() const override { return {"registry-probe", "9.9.9", "registry test plugin", {{"x", true}}}; }
  void configure(const nlohmann::json&) override {}
  std::string fingerprint() const override { return "probe"; }
  e2llm::CellResult evaluate(e2llm::LanguageModel&, e2llm::EvalContext&) override { return {}; }
};
}  // namespace

E2LLM_PLUGIN("task", "registry-probe", "9.9.9", RegistryProbeTask)
