// Chat templates: the prompt layout an instruct model was trained with, as its tokenizer
// file declares it (GGUF's tokenizer.chat_template, tokenizer_config.json's chat_template).
// Those are Jinja programs; e2llm runs no Jinja. It recognises the common families from the
// source, reads the few things that vary inside a family (a default system message, whether
// BOS is written, whether the text is trimmed, Mistral's spacing) and renders one user turn
// plus the assistant generation prompt itself (docs/chat-templates.md).
//
// A rendering is a list of pieces: text to encode, or the strings of special tokens to look
// up by Tokenizer::token_id(). Text is never searched for special tokens, and joining the
// pieces gives the string transformers' apply_chat_template renders for
// [{"role": "user", "content": text}] with add_generation_prompt=True.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace e2llm::formats {

enum class ChatFamily { chatml, llama2, llama3, mistral, gemma, phi3, zephyr };

// One row per family: its name in configs, the string in a template source that recognises
// it, the token that ends a turn ("" = the tokenizer's EOS) and what it looks like.
struct ChatFamilyInfo {
  ChatFamily family;
  const char* name;
  const char* end_of_turn;
  const char* layout;  // for docs and errors
};
const std::vector<ChatFamilyInfo>& chat_families();
const ChatFamilyInfo& chat_family_info(ChatFamily family);
// "chatml, llama2, llama3, mistral, gemma, phi3, zephyr"
std::string chat_family_names();
// By name; nullopt when the name is none of chat_families().
std::optional<ChatFamily> chat_family_named(std::string_view name);

// What e2llm renders for a family: the family's layout and what varies inside it.
struct ChatTemplate {
  ChatFamily family = ChatFamily::chatml;
  std::string default_system;  // inserted when no system message is given ("" = none)
  bool writes_bos = false;     // the template writes bos_token first
  bool trims_content = false;  // the user's text is stripped of surrounding whitespace
  // Mistral: the literal strings around the user's text ("[INST] " / " [/INST]" in v1,
  // "[INST] " / "[/INST]" in v3; Llama 2 always uses the v1 pair).
  std::string inst_open = "[INST] ", inst_close = " [/INST]";
};

// The family's published defaults: what `chat_template = "<family>"` renders (ChatML with no
// default system; Llama 2/3, Mistral and Gemma write BOS; Llama 2/3 and Gemma trim).
ChatTemplate chat_template_for(ChatFamily family);

// A template read from its Jinja source. Throws e2llm::Error with one line that names what
// the source starts with and the families e2llm renders; the caller adds where the template
// came from and how to name a family or turn templates off.
ChatTemplate recognise_chat_template(std::string_view source);

struct ChatPiece {
  enum class Kind {
    text,   // encode it
    token,  // a special token by its string: Tokenizer::token_id(value), as text if absent
    bos,    // the tokenizer's BOS (the template's bos_token)
    eos,    // the tokenizer's EOS (the template's eos_token)
  };
  Kind kind = Kind::text;
  std::string value;  // the text or the token string; "" for bos / eos
};

struct ChatTurn {
  std::vector<ChatPiece> pieces;  // adjacent text pieces are merged
  std::size_t content_piece = 0;  // the text piece holding the user's text
  std::size_t content_begin = 0;  // where the (trimmed) user text starts in that piece (bytes)
  std::size_t trimmed_front = 0;  // bytes of leading whitespace trimmed off the user's text
};

// One user turn with `text` and the assistant's generation prompt.
ChatTurn render_user_turn(const ChatTemplate& chat, std::string_view text);

// Python's str.strip() with no argument (Jinja's trim filter): Unicode whitespace off both ends.
std::string_view python_strip(std::string_view text);

}  // namespace e2llm::formats
