#include "e2llm/taskkit/prompt_framing.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "e2llm/error.hpp"

namespace e2llm::taskkit {

namespace {

using formats::ChatPiece;

// A piece after lookup: an id, or text to encode.
struct Resolved {
  bool is_id;
  std::int32_t id;
  std::string text;
};

}  // namespace

FramingConfig read_framing_config(ConfigReader& cfg) {
  FramingConfig c;
  c.chat_template = cfg.get<std::string>("chat_template", c.chat_template);
  if (c.chat_template != "none" && c.chat_template != "auto" && !formats::chat_family_named(c.chat_template))
    throw ConfigError("chat_template", fmt::format("must be \"none\", \"auto\" or a family ({}), not \"{}\"",
                                                   formats::chat_family_names(), c.chat_template));
  c.add_bos = read_bos_rule(cfg);
  return c;
}

BosRule read_bos_rule(ConfigReader& cfg) {
  if (!cfg.has("add_bos")) return BosRule::tokenizer;
  const nlohmann::json& v = cfg.raw().at("add_bos");
  if (v.is_boolean()) return v.get<bool>() ? BosRule::always : BosRule::never;
  if (v.is_string() && v.get<std::string>() == "auto") return BosRule::tokenizer;
  throw ConfigError("add_bos", "must be \"auto\" (the tokenizer's rule), true or false, not " + v.dump());
}

bool starts_with_bos(const Tokenizer& tokenizer, BosRule rule) {
  if (tokenizer.bos_id() < 0) return false;
  return rule == BosRule::always || (rule == BosRule::tokenizer && tokenizer.adds_bos());
}

nlohmann::json bos_rule_json(BosRule rule) {
  switch (rule) {
    case BosRule::tokenizer:
      return "auto";
    case BosRule::always:
      return true;
    case BosRule::never:
      return false;
  }
  return nullptr;
}

void add_framing_fingerprint(nlohmann::json& resolved, const FramingConfig& config, bool bos_key) {
  switch (config.add_bos) {
    case BosRule::tokenizer:
      if (bos_key) resolved["add_bos"] = true;
      break;
    case BosRule::always:
      resolved["add_bos"] = "always";
      break;
    case BosRule::never:
      resolved["add_bos"] = false;
      break;
  }
  if (config.chat_template != "none") resolved["chat_template"] = config.chat_template;
}

std::vector<std::int32_t> document_ids(const Tokenizer& tokenizer, BosRule rule, std::string_view text) {
  std::vector<std::int32_t> ids;
  if (starts_with_bos(tokenizer, rule)) ids.push_back(tokenizer.bos_id());
  const std::vector<std::int32_t> body = tokenizer.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  if (tokenizer.adds_eos()) ids.push_back(tokenizer.eos_id());
  return ids;
}

PromptFraming::PromptFraming(const Tokenizer& tokenizer, const FramingConfig& config, const std::string& override_hint)
    : tokenizer_(&tokenizer), config_(config) {
  if (config.chat_template == "none") return;
  if (config.chat_template == "auto") {
    const std::string source = tokenizer.chat_template();
    if (source.empty()) {
      source_ = "none: the tokenizer file carries no chat template";
      return;
    }
    try {
      chat_ = formats::recognise_chat_template(source);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}; {}", tokenizer.model_path(), e.what(), override_hint));
    }
    source_ = "tokenizer file";
    return;
  }
  const auto family = formats::chat_family_named(config.chat_template);
  if (!family)
    throw Error(fmt::format("chat template \"{}\" is none of the families e2llm renders ({}); {}", config.chat_template,
                            formats::chat_family_names(), override_hint));
  chat_ = formats::chat_template_for(*family);
  source_ = "named";
}

bool PromptFraming::bos_first() const {
  if (chat_ && config_.add_bos == BosRule::tokenizer) return chat_->writes_bos && tokenizer_->bos_id() >= 0;
  return starts_with_bos(*tokenizer_, config_.add_bos);
}

std::vector<std::int32_t> PromptFraming::frame(std::string_view text, std::optional<std::size_t> limit) const {
  const Tokenizer& tok = *tokenizer_;
  std::vector<std::int32_t> ids;
  if (bos_first()) ids.push_back(tok.bos_id());
  if (!chat_) {
    const auto body = tok.encode(limit ? text.substr(0, *limit) : text);
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
  }
  formats::ChatTurn turn = formats::render_user_turn(*chat_, text);
  if (limit) {  // keep the pieces up to the text's byte `limit`
    const std::size_t kept = *limit > turn.trimmed_front ? *limit - turn.trimmed_front : 0;
    std::string& content = turn.pieces[turn.content_piece].value;
    content.resize(std::min(content.size(), turn.content_begin + kept));
    turn.pieces.resize(turn.content_piece + 1);
  }
  // Special tokens by id (as text when this vocabulary has no such token), then each run of
  // text encoded as one string: what a Hugging Face tokenizer does with the rendered string,
  // which splits added tokens out before it encodes the text between them.
  std::vector<Resolved> resolved;
  for (const ChatPiece& piece : turn.pieces) {
    std::optional<std::int32_t> id;
    switch (piece.kind) {
      case ChatPiece::Kind::bos:
        continue;  // placed by bos_first()
      case ChatPiece::Kind::eos:
        id = tok.eos_id();
        break;
      case ChatPiece::Kind::token:
        id = tok.token_id(piece.value);
        break;
      case ChatPiece::Kind::text:
        break;
    }
    if (id && *id >= 0) {
      resolved.push_back({true, *id, ""});
    } else if (!resolved.empty() && !resolved.back().is_id) {
      resolved.back().text += piece.value;
    } else {
      resolved.push_back({false, -1, piece.value});
    }
  }
  for (const Resolved& r : resolved) {
    if (r.is_id) {
      ids.push_back(r.id);
      continue;
    }
    const auto body = tok.encode(r.text);
    ids.insert(ids.end(), body.begin(), body.end());
  }
  return ids;
}

std::vector<std::int32_t> PromptFraming::ids(std::string_view text) const {
  return frame(text, std::nullopt);
}

std::int64_t PromptFraming::tokens_before(std::string_view text, std::size_t offset) const {
  return std::int64_t(frame(text, std::min(offset, text.size())).size());
}

std::vector<std::int32_t> PromptFraming::stop_tokens() const {
  std::vector<std::int32_t> stops;
  if (tokenizer_->eos_id() >= 0) stops.push_back(tokenizer_->eos_id());
  if (chat_) {
    const std::string end = formats::chat_family_info(chat_->family).end_of_turn;
    if (!end.empty())
      if (auto id = tokenizer_->token_id(end); id && std::find(stops.begin(), stops.end(), *id) == stops.end())
        stops.push_back(*id);
  }
  return stops;
}

PromptFraming PromptFraming::without_template() const {
  PromptFraming plain;
  plain.tokenizer_ = tokenizer_;
  plain.config_ = config_;
  plain.config_.chat_template = "none";
  return plain;
}

nlohmann::json PromptFraming::record() const {
  nlohmann::json r = {{"chat_template", config_.chat_template},
                      {"family", chat_ ? nlohmann::json(formats::chat_family_info(chat_->family).name) : nullptr},
                      {"source", source_},
                      {"add_bos", bos_rule_json(config_.add_bos)},
                      {"bos", bos_first()}};
  if (!chat_) return r;
  r["default_system"] = chat_->default_system;
  r["template_writes_bos"] = chat_->writes_bos;
  r["trims_text"] = chat_->trims_content;
  // Special tokens of the layout this vocabulary lacks: encoded as text, as transformers would.
  nlohmann::json as_text = nlohmann::json::array();
  for (const ChatPiece& piece : formats::render_user_turn(*chat_, "").pieces)
    if (piece.kind == ChatPiece::Kind::token && !tokenizer_->token_id(piece.value) &&
        std::find(as_text.begin(), as_text.end(), piece.value) == as_text.end())
      as_text.push_back(piece.value);
  r["tokens_as_text"] = as_text;
  const std::string end = formats::chat_family_info(chat_->family).end_of_turn;
  r["end_of_turn"] = end.empty() ? "EOS" : end;
  return r;
}

}  // namespace e2llm::taskkit
