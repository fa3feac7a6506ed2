// The plugin ABI: one C entry point per shared library, returning a descriptor.
// The registry reads `abi_version` first and refuses a library whose version differs.
#pragma once

#include <cstdint>

namespace e2llm {

// Bump on any change to a class in contract/include/e2llm/ (layout, virtuals, semantics).
// 3: tokenizers say BOS/EOS, special ids, chat template. 4: CellResult::uncertainty,
// PrepareContext::training_seed, relative thresholds and window-curve references in views.
// 5: LanguageModel::generate_batch and batch_size (several prompts decoded together).
// 6: SweepInfo::tokenizer (tasks check prompts against the sweep's tokenizer before work).
inline constexpr std::uint32_t kAbiVersion = 6;

// Every plugin object derives from Plugin so that the registry can own it uniformly;
// the descriptor's `kind` says which interface it implements.
class Plugin {
 public:
  virtual ~Plugin() = default;
};

struct PluginDescriptor {
  std::uint32_t abi_version;  // must stay the first member
  const char* kind;           // "tokenizer" | "backend" | "task"
  const char* name;           // unique per kind, e.g. "sentencepiece", "yarn", "passkey"
  const char* version;        // the plugin's own semantic version
  Plugin* (*create)();        // a fresh object; the registry owns and deletes it
};

}  // namespace e2llm

#define E2LLM_PLUGIN_ENTRY_POINT e2llm_plugin_descriptor
#define E2LLM_PLUGIN_ENTRY_POINT_NAME "e2llm_plugin_descriptor"

// Declares the entry point of a plugin library. Use once per library:
//   E2LLM_PLUGIN("task", "passkey", "1.0.0", PasskeyTask)
#define E2LLM_PLUGIN(KIND, NAME, VERSION, CLASS)                                         \
  extern "C" __attribute__((visibility("default"))) const ::e2llm::PluginDescriptor*     \
  E2LLM_PLUGIN_ENTRY_POINT() {                                                            \
    static const ::e2llm::PluginDescriptor descriptor{                                   \
        ::e2llm::kAbiVersion, KIND, NAME, VERSION,                                        \
        []() -> ::e2llm::Plugin* { return new CLASS(); }};                                \
    return &descriptor;                                                                   \
  }
