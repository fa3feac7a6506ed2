// Which tokenizer plugin reads a tokenizer file, and which tokenizer a model brings: chosen
// by the file unless a plugin is named (docs/tokenizers.md §Choosing the tokenizer).
#pragma once

#include <filesystem>
#include <string>

namespace e2llm::harness {

// `explicit_plugin` when it is not empty; else "gguf" for a GGUF file (*.gguf, or a file that
// starts with the GGUF magic), "hf-json" for a tokenizer.json file (any *.json) or a folder
// holding one, and "sentencepiece" otherwise (a .model file, or a folder holding
// tokenizer.model). pip:<package>/<path> specs are looked at where they resolve.
std::string tokenizer_plugin_for(const std::filesystem::path& tokenizer, const std::string& explicit_plugin = "");

// The tokenizer of `model` when none is named: the model itself when it is a GGUF file (its
// tokenizer.* keys; a GGUF without them is refused by the gguf plugin) or a folder holding
// tokenizer.json or tokenizer.model. Otherwise throws e2llm::Error saying that the model
// carries no tokenizer and to name one (`how_to_name`, e.g. "pass --tokenizer").
std::filesystem::path tokenizer_of_model(const std::filesystem::path& model, const std::string& how_to_name);

}  // namespace e2llm::harness
