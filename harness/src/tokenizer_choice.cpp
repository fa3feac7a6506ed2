#include "e2llm/harness/tokenizer_choice.hpp"

namespace e2llm::harness {

std::string tokenizer_plugin_for(const std::filesystem::path& tokenizer, const std::string& explicit_plugin) {
  if (!explicit_plugin.empty()) return explicit_plugin;
  std::error_code ec;
  if (tokenizer.extension() == ".json") return "hf-json";
  if (std::filesystem::is_directory(tokenizer, ec) &&
      std::filesystem::is_regular_file(tokenizer / "tokenizer.json", ec))
    return "hf-json";
  return "sentencepiece";
}

}  // namespace e2llm::harness
