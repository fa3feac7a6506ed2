// A plugin built for a different ABI version: the registry must refuse it by name.
#include "e2llm/plugin.hpp"

extern "C" __attribute__((visibility("default"))) const e2llm::PluginDescriptor* e2llm_plugin_descriptor() {
  static const e2llm::PluginDescriptor d{e2llm::kAbiVersion + 41, "task", "from-the-future", "0.0.1", nullptr};
  return &d;
}
