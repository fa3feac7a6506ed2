// The GGUF tokenizer plugin ("gguf"): the tokenizer a GGUF model file carries in its
// tokenizer.* keys, so that a model file needs no separate tokenizer. docs/tokenizer-gguf.md.
#include <filesystem>
#include <memory>

#include "e2llm/error.hpp"
#include "e2llm/formats/gguf_reader.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/tokenizer.hpp"
#include "e2llm/util/package_path.hpp"
#include "gguf_tokenizer.hpp"

namespace e2llm {
namespace {
namespace fs = std::filesystem;

class GgufTokenizerPlugin final : public Tokenizer {
 public:
  void load(const std::string& model_path) override {
    const fs::path resolved = util::resolve_user_path(model_path);  // pip:<package>/<file> too
    std::error_code ec;
    if (!fs::is_regular_file(resolved, ec))
      throw Error("tokenizer " + model_path + " does not exist (pass a GGUF model file)");
    core_ = gguftok::tokenizer_from_gguf(formats::gguf::read_file(resolved));  // errors name the file
    path_ = model_path;
  }

  void train(const TokenizerTrainOptions&) override {
    throw Error(
        "tokenizer train: the gguf plugin reads the tokenizer a GGUF model carries but cannot train one; train a "
        "SentencePiece .model with 'e2llm tokenizer train'");
  }

  std::vector<std::int32_t> encode(std::string_view text) const override { return core().encode(text); }
  std::string decode(const std::vector<std::int32_t>& ids) const override { return core().decode(ids); }
  std::int32_t bos_id() const override { return core().vocab().bos; }
  std::int32_t eos_id() const override { return core().vocab().eos; }
  std::int32_t vocab_size() const override { return core().size(); }
  bool adds_bos() const override { return core().vocab().add_bos; }
  bool adds_eos() const override { return core().vocab().add_eos; }
  std::optional<std::int32_t> token_id(std::string_view token) const override { return core().token_id(token); }
  std::string chat_template() const override { return core().vocab().chat_template; }
  std::string fingerprint() const override { return core().vocab().fingerprint; }
  std::string model_path() const override { return path_; }

 private:
  const gguftok::GgufTokenizer& core() const {
    if (!core_) throw Error("tokenizer used before a GGUF was loaded");
    return *core_;
  }

  std::unique_ptr<gguftok::GgufTokenizer> core_;
  std::string path_;
};

}  // namespace
}  // namespace e2llm

E2LLM_PLUGIN("tokenizer", "gguf", "1.0.0", e2llm::GgufTokenizerPlugin)
