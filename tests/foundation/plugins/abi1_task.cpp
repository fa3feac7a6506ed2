// A plugin from before ABI 2 (report views, path keys, planned items): its classes have
// another layout, so the registry must refuse it by name instead of calling into it.
#include "e2llm/plugin.hpp"

extern "C" __attribute__((visibility("default"))) const e2llm::PluginDescriptor* e2llm_plugin_descriptor() {
  static const e2llm::PluginDescriptor d{1, "task", "from-abi-1", "1.0.0", nullptr};
  return &d;
}
