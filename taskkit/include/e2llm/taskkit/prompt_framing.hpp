// Prompt framing: the one place that turns a prompt text into the ids a task feeds the model
// (docs/protocols.md §Prompt framing, docs/chat-templates.md). Two settings, read from a
// task's config (and from `e2llm generate`'s flags):
//
//   chat_template  "none" (default): the text as is;
//                  "auto": the tokenizer file's own template when it carries one (an error
//                  when e2llm does not recognise it), none when it carries none;
//                  a family name ("chatml", "llama3", ...): that family's layout.
//   add_bos        "auto" (default): BOS as the tokenizer file says (Tokenizer::adds_bos);
//                  with a chat template, as the template writes it (as transformers'
//                  apply_chat_template does); true: BOS first (once); false: never.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "e2llm/config_reader.hpp"
#include "e2llm/formats/chat_template.hpp"
#include "e2llm/tokenizer.hpp"

namespace e2llm::taskkit {

enum class BosRule { tokenizer, always, never };  // add_bos = "auto" | true | false

struct FramingConfig {
  std::string chat_template = "none";  // "none" | "auto" | a family name
  BosRule add_bos = BosRule::tokenizer;
};

// How a task's user chooses instead when "auto" meets a template e2llm does not recognise.
inline constexpr const char* kTaskTemplateHint =
    "name a family with the task's chat_template = \"<family>\", or turn templates off with chat_template = "
    "\"none\"";

// chat_template and add_bos from a task's config section (ConfigErrors name the key).
FramingConfig read_framing_config(ConfigReader& cfg);
// add_bos alone (tasks that score documents rather than prompt a model).
BosRule read_bos_rule(ConfigReader& cfg);
// Whether a text framed under `rule` starts with BOS.
bool starts_with_bos(const Tokenizer& tokenizer, BosRule rule);
// "auto" | true | false, as written in a config and recorded in cells.
nlohmann::json bos_rule_json(BosRule rule);

// Adds the framing to a task's fingerprint fields. The defaults (chat_template = "none",
// add_bos = "auto") hash as the fields did before framing existed ("add_bos": true when
// `bos_key`, no chat_template), so cells made then keep their keys: every tokenizer of that
// time read by its own rule gives the prompts of "BOS always" (SentencePiece models with a
// BOS; tokenizer.json fingerprints changed when the rule came in). add_bos = true hashes as
// "always", since it differs from "auto" for tokenizers that add no BOS.
void add_framing_fingerprint(nlohmann::json& resolved, const FramingConfig& config, bool bos_key = true);

// A document's ids for perplexity: BOS by the rule, EOS as the tokenizer file says
// (encode_text() under add_bos = "auto").
std::vector<std::int32_t> document_ids(const Tokenizer& tokenizer, BosRule rule, std::string_view text);

// The framing of prompts for one tokenizer, resolved once (per cell).
class PromptFraming {
 public:
  // Resolves chat_template against the tokenizer's own template. Throws e2llm::Error with one
  // line naming the tokenizer file when "auto" meets a template e2llm does not recognise, or
  // when `config.chat_template` names no family; `override_hint` says how to choose instead
  // (e.g. "set chat_template = \"<family>\" or \"none\"").
  PromptFraming(const Tokenizer& tokenizer, const FramingConfig& config, const std::string& override_hint);

  // The ids of a prompt: [BOS] + encode(text) without a template; the template's pieces
  // with the text as the user's turn, special tokens by id, with one.
  std::vector<std::int32_t> ids(std::string_view text) const;
  // How many of ids(text) come before byte `offset` of `text`: the ids of the framing and of
  // text[0, offset) encoded alone, so a merge across the cut (a byte-level "\n\n" before a
  // word) can put it one token off. Where the template trims the text, offsets inside the
  // trimmed front count from the text's first kept byte.
  std::int64_t tokens_before(std::string_view text, std::size_t offset) const;
  // EOS, and the template's end-of-turn token when it has one in this vocabulary.
  std::vector<std::int32_t> stop_tokens() const;

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  bool chat() const { return chat_.has_value(); }
  const std::optional<formats::ChatTemplate>& chat_template() const { return chat_; }
  // The same settings with the template turned off (LongBench truncates before the template).
  PromptFraming without_template() const;
  // What a cell records: {"chat_template": setting, "family": name | null, "source":
  // "tokenizer file" | "named" | "none", "default_system": ..., "bos": bool, "add_bos": setting,
  // "tokens_as_text": [...]}.
  nlohmann::json record() const;

 private:
  PromptFraming() = default;
  // The framed pieces (special tokens resolved, texts merged) up to `limit` bytes of the text.
  std::vector<std::int32_t> frame(std::string_view text, std::optional<std::size_t> limit) const;
  bool bos_first() const;

  const Tokenizer* tokenizer_ = nullptr;
  FramingConfig config_;
  std::optional<formats::ChatTemplate> chat_;
  std::string source_ = "none";  // where the template came from
};

}  // namespace e2llm::taskkit
