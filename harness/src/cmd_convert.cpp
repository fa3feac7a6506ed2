// e2llm convert IN OUT_DIR: any supported checkpoint (GGUF, HF dir) to a Hugging Face dir.
#include <fmt/core.h>

#include "e2llm/harness/app.hpp"
#include "e2llm/formats/checkpoint.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext&) {
  struct Args {
    std::string in, out, tokenizer;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "convert", "Convert a checkpoint (GGUF: float or quantized, written as F32; HF dir) to a Hugging Face dir");
  cmd->add_option("IN", a->in, "Input .gguf file or HF directory")->required();
  cmd->add_option("OUT_DIR", a->out, "Output directory (written atomically)")->required();
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.model to copy into OUT_DIR");
  cmd->callback([a] {
    std::optional<std::filesystem::path> tok;
    if (!a->tokenizer.empty()) tok = a->tokenizer;
    formats::convert_to_hf(a->in, a->out, tok);
    fmt::print("wrote {}\n", a->out);
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
