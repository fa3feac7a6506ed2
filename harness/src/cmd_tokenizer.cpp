// e2llm tokenizer train|encode|decode through a tokenizer plugin (chosen by the model file).
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "e2llm/harness/app.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"

namespace e2llm::harness {
namespace {

void install(CLI::App& app, AppContext& context) {
  auto* tok = app.add_subcommand("tokenizer", "Train and use tokenizers");
  tok->require_subcommand(1);
  struct Args {
    std::string plugin;  // empty: chosen by the model file (train: sentencepiece)
    std::vector<std::string> inputs;
    int vocab_size = 4096;
    std::string model_type = "bpe";
    std::string out, model, text;
    std::vector<std::int32_t> ids;
  };
  auto a = std::make_shared<Args>();

  auto* train = tok->add_subcommand("train", "Train a tokenizer model from text files");
  train->add_option("--input", a->inputs, "Text file (repeatable)")->required();
  train->add_option("--vocab-size", a->vocab_size, "Vocabulary size")->capture_default_str();
  train->add_option("--model-type", a->model_type, "bpe or unigram")->capture_default_str();
  train->add_option("--out", a->out, "Output PATH.model")->required();
  train->add_option("--plugin", a->plugin, "Tokenizer plugin (default: sentencepiece)");
  train->callback([&context, a] {
    auto t = context.registry().make_tokenizer(a->plugin.empty() ? "sentencepiece" : a->plugin);
    TokenizerTrainOptions options;
    options.inputs = a->inputs;
    options.vocab_size = a->vocab_size;
    options.model_type = a->model_type;
    options.out_path = a->out;
    t->train(options);
    fmt::print("wrote {} (vocab {}, sha256 {})\n", a->out, t->vocab_size(), t->fingerprint());
  });

  auto* encode = tok->add_subcommand("encode", "Print the token ids of TEXT (or of standard input)");
  encode->add_option("--model", a->model, "Tokenizer: .model, tokenizer.json, a GGUF model or a folder")->required();
  encode->add_option("TEXT", a->text, "Text to encode (default: read standard input)");
  encode->add_option("--plugin", a->plugin, "Tokenizer plugin (default: chosen by the model file)");
  encode->callback([&context, a] {
    auto t = context.registry().make_tokenizer(tokenizer_plugin_for(a->model, a->plugin));
    t->load(a->model);
    std::string text = a->text;
    if (text.empty()) {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
      if (!text.empty() && text.back() == '\n') text.pop_back();  // the shell's newline is not text
    }
    fmt::print("{}\n", fmt::join(t->encode(text), " "));
  });

  auto* decode = tok->add_subcommand("decode", "Print the text of token ids");
  decode->add_option("--model", a->model, "Tokenizer: .model, tokenizer.json, a GGUF model or a folder")->required();
  decode->add_option("IDS", a->ids, "Token ids")->required();
  decode->add_option("--plugin", a->plugin, "Tokenizer plugin (default: chosen by the model file)");
  decode->callback([&context, a] {
    auto t = context.registry().make_tokenizer(tokenizer_plugin_for(a->model, a->plugin));
    t->load(a->model);
    fmt::print("{}\n", t->decode(a->ids));
  });
}

const RegisterCommand registered(install);

}  // namespace
}  // namespace e2llm::harness
