// e2llm export: a model written for other runtimes with the RoPE e2llm serves it with at a
// window W — the same flags as `e2llm perplexity`, so what is exported is what was measured.
// A Hugging Face directory (--out) and/or a GGUF for llama.cpp (--gguf) (docs/interop.md §Export)
#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "e2llm/error.hpp"
#include "e2llm/formats/export.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"
#include "model_args.hpp"

namespace e2llm::harness {
namespace {

namespace fs = std::filesystem;

void install(CLI::App& app, AppContext& context) {
  struct Args : ModelArgs {
    std::string out, gguf;
  };
  auto a = std::make_shared<Args>();
  a->device = "cpu";  // the model is opened only to ask its backend which RoPE serves W
  auto* cmd = app.add_subcommand(
      "export", "Write a model with the RoPE e2llm serves it with at --window: an HF directory and/or a GGUF");
  add_model_options(cmd, *a);
  cmd->add_option("--window", a->window, "Target window W (>= the model's original window L)")
      ->required()
      ->check(CLI::Range(2, 1 << 30));
  cmd->add_option("--out", a->out, "Hugging Face directory to write (config.json carries the RoPE)");
  cmd->add_option("--gguf", a->gguf, "GGUF file to write (llama.cpp's rope keys)");
  cmd->callback([&context, a] {
    if (a->out.empty() && a->gguf.empty()) throw CLI::ValidationError("export", "give --out DIR, --gguf FILE or both");
    OpenedModel o = open_model(context, *a, a->window);
    formats::ExportRequest r;
    r.model = a->model;
    r.served = formats::RopeConfig::from_json(o.model->describe().at("rope"));
    r.window = a->window;
    r.original_window = o.original_window;
    if (!a->out.empty()) r.hf_dir = fs::path(a->out);
    if (!a->gguf.empty()) r.gguf = fs::path(a->gguf);
    // The tokenizer file itself: a folder (the model's own, by default) stands for the one in it.
    fs::path tok = util::resolve_user_path(o.tokenizer->model_path());
    std::error_code ec;
    if (fs::is_directory(tok, ec))
      tok /= fs::is_regular_file(tok / "tokenizer.json", ec) ? "tokenizer.json" : "tokenizer.model";
    if (tok.extension() == ".model") r.tokenizer = tok;
    o.model.reset();  // the served RoPE is read: release the loaded weights before the export maps the file
    o.backend.reset();
    nlohmann::json written = formats::export_model(r);
    if (r.hf_dir && tok.filename() == "tokenizer.json")
      util::write_file_atomic(*r.hf_dir / "tokenizer.json", util::read_file(tok));
    written["served"] = r.served.to_json();
    written["original_window"] = r.original_window;
    fmt::print("{}\n", written.dump(2));
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
