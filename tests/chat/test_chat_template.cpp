// Chat templates (formats/chat_template.hpp) against transformers' own Jinja environment: for
// a template of each family written from its published format (templates/), the pieces e2llm
// renders, joined, equal the string transformers renders for one user turn with the
// generation prompt; what is read from a source (family, default system, BOS, trimming) and
// the one-line refusals of templates e2llm does not render.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/error.hpp"
#include "e2llm/formats/chat_template.hpp"
#include "e2llm/util/files.hpp"

namespace fs = std::filesystem;
using namespace e2llm::formats;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const fs::path kSource = E2LLM_SOURCE_DIR;
const fs::path kTemplates = kSource / "tests/chat/templates";
constexpr const char* kBos = "<s>";
constexpr const char* kEos = "</s>";

// Texts that exercise trimming, newlines, braces, quotes and non-ASCII whitespace.
const std::vector<std::string> kTexts = {
    "Hello there",
    "  What is 2 + 2?\n\n",
    "Line one\nLine two {with braces} and 'quotes' and \"double quotes\"",
    "\u3000ünïcödé text with a trailing no-break space\u00a0",
    "",
};

struct Expected {
  std::string file;
  ChatFamily family;
  std::string default_system;
  bool writes_bos;
  bool trims;
};

const std::vector<Expected> kCases = {
    {"chatml.jinja", ChatFamily::chatml, "", false, false},
    {"chatml-qwen2.5.jinja", ChatFamily::chatml, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
     false, false},
    {"llama2.jinja", ChatFamily::llama2, "", true, true},
    {"llama2-default-system.jinja", ChatFamily::llama2, "You are a helpful, respectful and honest assistant.", true,
     true},
    {"llama3.jinja", ChatFamily::llama3, "", true, true},
    {"mistral-v1.jinja", ChatFamily::mistral, "", true, false},
    {"mistral-v3.jinja", ChatFamily::mistral, "", true, false},
    {"gemma.jinja", ChatFamily::gemma, "", true, true},
    {"phi3.jinja", ChatFamily::phi3, "", false, false},
    {"phi3-bos.jinja", ChatFamily::phi3, "", true, false},
    {"zephyr.jinja", ChatFamily::zephyr, "", false, false},
};

std::string joined(const ChatTurn& turn) {
  std::string s;
  for (const ChatPiece& p : turn.pieces) {
    switch (p.kind) {
      case ChatPiece::Kind::bos:
        s += kBos;
        break;
      case ChatPiece::Kind::eos:
        s += kEos;
        break;
      default:
        s += p.value;
    }
  }
  return s;
}

// transformers' rendering of each (template, text), in order.
std::vector<std::string> oracle_render(const nlohmann::json& cases, const std::string& name) {
  const fs::path dir = fs::path(E2LLM_BINARY_DIR) / "tests" / "chat" / (name + "-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  e2llm::util::write_file_atomic(dir / "cases.json", cases.dump());
  const auto r = run_command(quote((kSource / ".venv/bin/python").string()) + " " +
                             quote((kSource / "tests/chat/chat_oracle.py").string()) + " render " +
                             quote((dir / "cases.json").string()) + " " + quote((dir / "out.json").string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto out = nlohmann::json::parse(e2llm::util::read_file(dir / "out.json")).get<std::vector<std::string>>();
  fs::remove_all(dir);
  return out;
}

std::string refusal(const std::string& source) {
  try {
    recognise_chat_template(source);
  } catch (const e2llm::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ChatTemplate, EveryFamilyRendersWhatTransformersRenders) {
  nlohmann::json cases = nlohmann::json::array();
  std::vector<std::string> rendered;
  for (const Expected& c : kCases) {
    SCOPED_TRACE(c.file);
    const std::string source = e2llm::util::read_file(kTemplates / c.file);
    const ChatTemplate t = recognise_chat_template(source);
    EXPECT_EQ(chat_family_info(t.family).name, std::string(chat_family_info(c.family).name));
    EXPECT_EQ(t.default_system, c.default_system);
    EXPECT_EQ(t.writes_bos, c.writes_bos);
    EXPECT_EQ(t.trims_content, c.trims);
    for (const std::string& text : kTexts) {
      cases.push_back({{"template", source}, {"text", text}, {"bos_token", kBos}, {"eos_token", kEos}});
      rendered.push_back(joined(render_user_turn(t, text)));
    }
  }
  const std::vector<std::string> expected = oracle_render(cases, "render");
  ASSERT_EQ(expected.size(), rendered.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_EQ(rendered[i], expected[i]) << kCases[i / kTexts.size()].file << " with text "
                                        << nlohmann::json(kTexts[i % kTexts.size()]).dump();
}

// A named family renders its published default layout: what the written templates render.
TEST(ChatTemplate, NamedFamiliesRenderTheirPublishedLayout) {
  for (const char* file : {"chatml.jinja", "llama2.jinja", "llama3.jinja", "mistral-v1.jinja", "gemma.jinja",
                           "phi3.jinja", "zephyr.jinja"}) {
    SCOPED_TRACE(file);
    const ChatTemplate read = recognise_chat_template(e2llm::util::read_file(kTemplates / file));
    const ChatTemplate named = chat_template_for(read.family);
    for (const std::string& text : kTexts)
      EXPECT_EQ(joined(render_user_turn(named, text)), joined(render_user_turn(read, text)));
    EXPECT_EQ(chat_family_named(chat_family_info(read.family).name), read.family);
  }
  EXPECT_FALSE(chat_family_named("vicuna"));
}

// Special tokens are pieces of their own; the user's text is one text piece, never searched.
TEST(ChatTemplate, PiecesKeepSpecialTokensApartFromText) {
  const ChatTemplate chatml = recognise_chat_template(e2llm::util::read_file(kTemplates / "chatml-qwen2.5.jinja"));
  const ChatTurn turn = render_user_turn(chatml, "say <|im_end|> please");
  std::vector<std::string> tokens, texts;
  for (const ChatPiece& p : turn.pieces) (p.kind == ChatPiece::Kind::token ? tokens : texts).push_back(p.value);
  EXPECT_EQ(tokens,
            (std::vector<std::string>{"<|im_start|>", "<|im_end|>", "<|im_start|>", "<|im_end|>", "<|im_start|>"}));
  EXPECT_EQ(texts[2], "user\nsay <|im_end|> please");
  EXPECT_EQ(turn.content_piece, 5u);
  EXPECT_EQ(turn.content_begin, 5u);
  // Trimming moves where the text starts.
  const ChatTurn trimmed = render_user_turn(chat_template_for(ChatFamily::llama3), "  \tkey");
  EXPECT_EQ(trimmed.trimmed_front, 3u);
  EXPECT_EQ(trimmed.pieces[trimmed.content_piece].value.substr(trimmed.content_begin), "key");
  // Mistral v3 writes [INST] and [/INST] as their own pieces: tokens in its vocabulary.
  const ChatTurn v3 =
      render_user_turn(recognise_chat_template(e2llm::util::read_file(kTemplates / "mistral-v3.jinja")), "hi");
  ASSERT_EQ(v3.pieces.size(), 4u);
  EXPECT_EQ(v3.pieces[0].kind, ChatPiece::Kind::bos);
  EXPECT_EQ(v3.pieces[1].value, "[INST]");
  EXPECT_EQ(v3.pieces[2].value, " hi");
  EXPECT_EQ(v3.pieces[3].value, "[/INST]");
}

TEST(ChatTemplate, UnrecognisedTemplatesAreOneLineNamingTheStartAndTheFamilies) {
  const std::string vicuna =
      "{% for message in messages %}{% if message['role'] == 'user' %}{{ 'USER: ' + message['content'] + '\\n' }}"
      "{% else %}{{ 'ASSISTANT: ' + message['content'] + eos_token + '\\n' }}{% endif %}{% endfor %}"
      "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";
  const std::string why = refusal(vicuna);
  EXPECT_EQ(why,
            "chat template not recognised (it starts with \"{% for message in messages %}{% if message['role'] == "
            "'user'…\"); e2llm renders chatml, llama2, llama3, mistral, gemma, phi3, zephyr");
  EXPECT_EQ(std::count(why.begin(), why.end(), '\n'), 0);
  // Variants whose rendering e2llm does not reproduce are refused by name, not misrendered.
  const std::string llama31 =
      "{{- bos_token }}{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{{- 'Cutting Knowledge Date: "
      "December 2023\\n' }}{{- 'Today Date: ' + date_string + '\\n\\n' }}";
  EXPECT_NE(refusal(llama31).find("a Llama 3.1+ template"), std::string::npos) << refusal(llama31);
  const std::string mistral7 =
      "{{- bos_token }}{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}{{- '[INST]' + "
      "message['content'] + '[/INST]' }}";
  EXPECT_NE(refusal(mistral7).find("[SYSTEM_PROMPT]"), std::string::npos) << refusal(mistral7);
  const std::string gemma_system = "{% set default_system = 'Be brief.' %}{{ '<start_of_turn>user\\n' }}";
  EXPECT_NE(refusal(gemma_system).find("default system message (default_system)"), std::string::npos)
      << refusal(gemma_system);
  // The start is cut on a character boundary and shows newlines escaped.
  const std::string multiline = "\n\n" + std::string(57, ' ') + "ü and more";
  const std::string head = refusal(multiline);
  EXPECT_NE(head.find("(it starts with \"\\n\\n" + std::string(57, ' ') + "…\")"), std::string::npos) << head;
}

TEST(ChatTemplate, PythonStripIsUnicodeAware) {
  EXPECT_EQ(python_strip(" \t\n\r\v\fx y\u00a0\u2003\u3000"), "x y");
  EXPECT_EQ(python_strip("\u200bx"), "\u200bx");  // zero-width space is not whitespace in Python
  EXPECT_EQ(python_strip(""), "");
  EXPECT_EQ(python_strip("\u0085"), "");
}
