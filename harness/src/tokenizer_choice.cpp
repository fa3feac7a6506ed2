#include "e2llm/harness/tokenizer_choice.hpp"

#include <cctype>
#include <fstream>

#include "e2llm/error.hpp"
#include "e2llm/harness/config.hpp"
#include "e2llm/util/package_path.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;

namespace {

// The path a spec names on this machine; a pip: spec that does not resolve stays as written
// (the plugin that loads it reports that).
fs::path on_disk(const fs::path& spec) {
  try {
    return util::resolve_user_path(spec.string());
  } catch (const Error&) {
    return spec;
  }
}

bool is_gguf(const fs::path& spec, const fs::path& file) {
  std::string ext = spec.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".gguf") return true;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

}  // namespace

std::string tokenizer_plugin_for(const fs::path& tokenizer, const std::string& explicit_plugin) {
  if (!explicit_plugin.empty()) return explicit_plugin;
  if (tokenizer.extension() == ".json") return "hf-json";
  const fs::path file = on_disk(tokenizer);
  if (is_gguf(tokenizer, file)) return "gguf";
  std::error_code ec;
  if (fs::is_directory(file, ec) && fs::is_regular_file(file / "tokenizer.json", ec)) return "hf-json";
  return "sentencepiece";
}

fs::path tokenizer_of_model(const fs::path& model, const std::string& how_to_name) {
  const fs::path file = on_disk(model);
  if (is_gguf(model, file)) return model;
  std::error_code ec;
  if (fs::is_directory(file, ec) &&
      (fs::is_regular_file(file / "tokenizer.json", ec) || fs::is_regular_file(file / "tokenizer.model", ec)))
    return model;
  // The path as written may hold any byte (a config value): shown escaped, on one line.
  if (!fs::exists(file, ec))
    throw Error("model " + printable(model.string()) + " does not exist, so it brings no tokenizer; " + how_to_name);
  throw Error("model " + printable(model.string()) +
              " carries no tokenizer (a GGUF file carries one; a Hugging Face folder needs tokenizer.json or "
              "tokenizer.model); " +
              how_to_name);
}

}  // namespace e2llm::harness
