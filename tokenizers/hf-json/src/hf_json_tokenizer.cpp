// The tokenizer.json plugin ("hf-json"): Hugging Face tokenizer files of the BPE family
// (GPT-2 / Llama 3 / Qwen2 byte-level BPE, Llama 2 style BPE with byte fallback), encoded
// and decoded as the `tokenizers` library does. docs/tokenizer-json.md says what is covered.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "e2llm/bpe/unicode.hpp"
#include "e2llm/error.hpp"
#include "e2llm/plugin.hpp"
#include "e2llm/tokenizer.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"
#include "e2llm/util/sha256.hpp"
#include "tokenizer_json.hpp"

namespace e2llm {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// Names that the usual model families give their BOS / EOS tokens, tried in this order when
// neither tokenizer_config.json nor the post-processor says (GPT-2 uses <|endoftext|> for both).
const char* const kBosNames[] = {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>", "<|endoftext|>"};
const char* const kEosNames[] = {"</s>", "<|end_of_text|>", "<eos>", "<|endoftext|>"};

// A tokenizer_config.json token entry: "text", {"content": "text"} or null.
std::optional<std::string> config_token(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  return std::nullopt;
}

// A tokenizer_config.json boolean, if given as one.
std::optional<bool> config_flag(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || !it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

// BOS / EOS as a TemplateProcessing post-processor adds them to a single sequence: the
// special token before "$A" and the one after it (so the template adding one is also
// whether the file frames a text with it).
void from_template(const json& processor, std::optional<std::int32_t>& bos, std::optional<std::int32_t>& eos) {
  const std::string type = processor.is_object() ? processor.value("type", std::string()) : std::string();
  if (type == "Sequence") {
    for (const auto& p : processor.value("processors", json::array())) from_template(p, bos, eos);
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    if (!bos && processor.contains("cls")) bos = processor["cls"][1].get<std::int32_t>();
    if (!eos && processor.contains("sep")) eos = processor["sep"][1].get<std::int32_t>();
    return;
  }
  if (type != "TemplateProcessing") return;
  const json& specials = processor.value("special_tokens", json::object());
  bool seen_sequence = false;
  for (const auto& item : processor.value("single", json::array())) {
    if (item.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!item.contains("SpecialToken")) continue;
    const std::string name = item["SpecialToken"].value("id", std::string());
    auto it = specials.find(name);
    if (it == specials.end() || !it->contains("ids") || (*it)["ids"].empty()) continue;
    const auto id = (*it)["ids"][0].get<std::int32_t>();
    if (!seen_sequence && !bos) bos = id;
    if (seen_sequence && !eos) eos = id;
  }
}

class HfJsonTokenizer final : public Tokenizer {
 public:
  void load(const std::string& model_path) override {
    std::error_code ec;
    const fs::path resolved = util::resolve_user_path(model_path);  // pip:<package>/<file> too
    fs::path file = resolved;
    if (fs::is_directory(file, ec)) file /= "tokenizer.json";
    if (!fs::is_regular_file(file, ec))
      throw Error("tokenizer " + model_path + " does not exist (pass a tokenizer.json file or a folder holding one)");
    const std::string bytes = util::read_file(file);
    std::unique_ptr<hfjson::TokenizerJson> core;
    try {
      core = std::make_unique<hfjson::TokenizerJson>(bytes);
    } catch (const Error& e) {
      throw Error("tokenizer " + file.string() + ": " + e.what());
    }
    std::string fingerprint_input = bytes;
    json config;
    const fs::path config_path = file.parent_path() / "tokenizer_config.json";
    if (fs::is_regular_file(config_path, ec)) {
      const std::string config_bytes = util::read_file(config_path);
      config = json::parse(config_bytes, nullptr, false);
      if (config.is_discarded()) throw Error(config_path.string() + " is not valid JSON");
      fingerprint_input += '\0' + config_bytes;  // BOS / EOS and the chat template may come from it
    }
    core_ = std::move(core);
    resolve_special_ids(config);
    chat_template_ = read_chat_template(config, file.parent_path());
    fingerprint_input += '\0' + chat_template_;
    fingerprint_ = util::sha256_hex(fingerprint_input);
    path_ = model_path;
  }

  void train(const TokenizerTrainOptions&) override {
    throw Error(
        "tokenizer train: the hf-json plugin reads tokenizer.json files but cannot train one; train a SentencePiece "
        ".model with 'e2llm tokenizer train', or a tokenizer.json with the Hugging Face tokenizers library");
  }

  std::vector<std::int32_t> encode(std::string_view text) const override {
    // Text from files may hold invalid UTF-8: each invalid run reads as U+FFFD.
    if (!bpe::is_valid_utf8(text)) return core().encode(bpe::utf8_lossy(text));
    return core().encode(text);
  }

  // Special tokens (BOS, EOS, ...) are left out, as in `decode(ids, skip_special_tokens=True)`.
  std::string decode(const std::vector<std::int32_t>& ids) const override { return core().decode(ids, true); }

  std::int32_t bos_id() const override { return bos_; }
  std::int32_t eos_id() const override { return eos_; }
  std::int32_t vocab_size() const override { return core().vocab_size(); }
  bool adds_bos() const override { return adds_bos_ && bos_ >= 0; }
  bool adds_eos() const override { return adds_eos_ && eos_ >= 0; }
  std::optional<std::int32_t> token_id(std::string_view token) const override { return core().token_to_id(token); }
  std::string chat_template() const override { return chat_template_; }
  std::string fingerprint() const override { return fingerprint_; }
  std::string model_path() const override { return path_; }

 private:
  const hfjson::TokenizerJson& core() const {
    if (!core_) throw Error("tokenizer used before a tokenizer.json was loaded");
    return *core_;
  }

  // BOS / EOS: tokenizer_config.json beside the file (what transformers uses), else the
  // post-processor's template, else a special added token with a customary name; -1 if none.
  // Whether a text is framed with them: tokenizer_config.json's add_bos_token / add_eos_token
  // when given (transformers' Llama tokenizers), else whether the post-processor adds them.
  void resolve_special_ids(const json& config) {
    std::optional<std::int32_t> bos, eos, template_bos, template_eos;
    from_template(core_->post_processor(), template_bos, template_eos);
    adds_bos_ = config_flag(config, "add_bos_token").value_or(template_bos.has_value());
    adds_eos_ = config_flag(config, "add_eos_token").value_or(template_eos.has_value());
    if (auto name = config_token(config, "bos_token")) bos = core_->token_to_id(*name);
    if (auto name = config_token(config, "eos_token")) eos = core_->token_to_id(*name);
    if (!bos) bos = template_bos;
    if (!eos) eos = template_eos;
    auto by_name = [&](const auto& names) -> std::optional<std::int32_t> {
      for (const char* name : names)
        for (const auto& t : core_->added_tokens())
          if (t.special && t.content == name) return t.id;
      return std::nullopt;
    };
    if (!bos) bos = by_name(kBosNames);
    if (!eos) eos = by_name(kEosNames);
    bos_ = bos.value_or(-1);
    eos_ = eos.value_or(-1);
  }

  // tokenizer_config.json's "chat_template" (a string, or a list of {name, template} of which
  // "default" is the one), else a chat_template.jinja file beside (newer transformers).
  static std::string read_chat_template(const json& config, const fs::path& folder) {
    if (auto it = config.find("chat_template"); it != config.end()) {
      if (it->is_string()) return it->get<std::string>();
      if (it->is_array())
        for (const auto& entry : *it)
          if (entry.is_object() && entry.value("name", std::string()) == "default" && entry.contains("template") &&
              entry["template"].is_string())
            return entry["template"].get<std::string>();
    }
    std::error_code ec;
    if (fs::is_regular_file(folder / "chat_template.jinja", ec)) return util::read_file(folder / "chat_template.jinja");
    return "";
  }

  std::unique_ptr<hfjson::TokenizerJson> core_;
  std::int32_t bos_ = -1, eos_ = -1;
  bool adds_bos_ = false, adds_eos_ = false;
  std::string chat_template_;
  std::string fingerprint_;
  std::string path_;
};

}  // namespace
}  // namespace e2llm

E2LLM_PLUGIN("tokenizer", "hf-json", "1.0.0", e2llm::HfJsonTokenizer)
