// Which tokenizer plugin reads a tokenizer file: chosen by the file unless a plugin is named.
#pragma once

#include <filesystem>
#include <string>

namespace e2llm::harness {

// `explicit_plugin` when it is not empty; else "hf-json" for a tokenizer.json file (any
// *.json) or a folder holding one, and "sentencepiece" otherwise (a .model file).
std::string tokenizer_plugin_for(const std::filesystem::path& tokenizer, const std::string& explicit_plugin = "");

}  // namespace e2llm::harness
