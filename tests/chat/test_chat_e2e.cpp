// Prompt framing through the real binary with a model transformers made: a random 2-layer
// LLaMA with SmolLM2's vocabulary and tokenizer (no BOS by its rule; a ChatML template).
//   - proofpile and `e2llm perplexity` score (len - 1) tokens of the text as the tokenizer
//     frames it (no BOS) and give transformers' perplexity of tokenizer(text).input_ids;
//   - `e2llm generate --chat` prints transformers' greedy reply to the chat-templated prompt;
//   - passkey, kv-retrieval and longbench cells record the framing they used;
//   - a template e2llm does not render, or none at all, is one line on stderr.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../support/run_command.hpp"
#include "e2llm/util/files.hpp"
#include "smollm2.hpp"

namespace fs = std::filesystem;
using chattest::smollm2_folder;
using e2llm::testing::quote;
using e2llm::testing::run_command;

namespace {

const std::string kExe = E2LLM_EXE;

std::string text() {
  std::string t;
  for (int i = 0; i < 12; ++i)
    t += "The context window of a language model is the number of tokens it reads at once. Numbers 12345 and "
         "ünïcödé are tokenized too.\n";
  return t;
}

// The model and transformers' reference, made once per test process (each in its own folder).
struct Work {
  fs::path dir = chattest::kWork / ("e2e-" + std::to_string(::getpid()));
  ~Work() { fs::remove_all(dir); }
};

const fs::path& work() {
  static const Work holder;
  static const fs::path dir = [] {
    fs::remove_all(holder.dir);
    fs::create_directories(holder.dir);
    e2llm::util::write_file_atomic(holder.dir / "text.txt", text());
    e2llm::util::write_file_atomic(holder.dir / "docs.jsonl", nlohmann::json{{"text", text()}}.dump() + "\n");
    chattest::run_oracle("tiny-model " + quote(smollm2_folder().string()) + " " +
                         quote((holder.dir / "text.txt").string()) + " " + quote(holder.dir.string()) + " 128");
    return holder.dir;
  }();
  return dir;
}

nlohmann::json reference() {
  return nlohmann::json::parse(e2llm::util::read_file(work() / "reference.json"));
}

std::string tokenizer_file() {
  return (smollm2_folder() / "tokenizer.json").string();
}

// A sweep of `tasks` (TOML sections) over `windows`; returns the cells by task label.
std::map<std::string, nlohmann::json> sweep(const std::string& name, const std::string& tasks,
                                            const std::string& windows) {
  const fs::path out = work() / name;
  const std::string toml = "[run]\nname = \"" + name + "\"\nout = \"" + out.string() + "\"\nthreads = 1\n" +
                           "[tokenizer]\nmodel = \"" + tokenizer_file() + "\"\n" +
                           "[base]\nsource = \"hf\"\npath = \"" + (work() / "model").string() + "\"\nwindow = 128\n" +
                           "[backends.none]\ncheck_blas = false\n" + tasks + "[sweep]\nwindows = " + windows +
                           "\nbackends = [\"none\"]\n";
  e2llm::util::write_file_atomic(work() / (name + ".toml"), toml);
  const auto r = run_command(kExe + " sweep " + quote((work() / (name + ".toml")).string()));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::map<std::string, nlohmann::json> cells;
  for (const auto& entry : fs::directory_iterator(out / "cells"))
    if (entry.path().extension() == ".json") {
      auto cell = nlohmann::json::parse(e2llm::util::read_file(entry.path()));
      cells[cell["task"]["label"].get<std::string>()] = cell;
    }
  return cells;
}

}  // namespace

TEST(ChatE2E, ProofpileAndPerplexityOnANoBosTokenizerEqualTransformers) {
  const auto ref = reference();
  ASSERT_NE(ref["first_id"], ref["bos_id"]);  // transformers' own framing has no BOS
  auto cells =
      sweep("ppl", "[tasks.proofpile]\nplugin = \"proofpile\"\ndata = \"docs.jsonl\"\nstride = 128\n", "[128]");
  ASSERT_EQ(cells.count("proofpile"), 1u);
  const auto& cell = cells["proofpile"];
  EXPECT_EQ(cell["metrics"]["tokens"], ref["tokens"]);  // 127: every token of the first 128 but the first
  EXPECT_EQ(cell["details"]["bos"], false);
  EXPECT_EQ(cell["details"]["add_bos"], "auto");
  const double ppl = cell["metrics"]["ppl"].get<double>(), ref_ppl = ref["ppl"].get<double>();
  EXPECT_NEAR(std::log(ppl), std::log(ref_ppl), 1e-4 * std::max(1.0, std::abs(std::log(ref_ppl))));

  const auto r = run_command(kExe + " perplexity --model " + quote((work() / "model").string()) + " --tokenizer " +
                             quote(tokenizer_file()) + " --input " + quote((work() / "text.txt").string()) +
                             " --window 128 --stride 128 --truncate 128 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["tokens"], ref["tokens"]);
  EXPECT_NEAR(out["nll"].get<double>(), std::log(ref_ppl), 1e-4 * std::max(1.0, std::abs(std::log(ref_ppl))));
}

TEST(ChatE2E, GenerateChatPrintsTransformersGreedyReply) {
  const auto ref = reference();
  const auto r =
      run_command(kExe + " generate --model " + quote((work() / "model").string()) + " --tokenizer " +
                  quote(tokenizer_file()) + " --chat --prompt " + quote(ref["chat_prompt"].get<std::string>()) +
                  " --max-new-tokens 8 --temperature 0 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ref["chat_reply"].get<std::string>() + "\n");
}

TEST(ChatE2E, CellsRecordTheFramingTheyUsed) {
  const std::string tasks =
      "[tasks.passkey]\nplugin = \"passkey\"\ndepths = [0.5]\ntrials = 1\nchat_template = \"auto\"\n"
      "[tasks.kv]\nplugin = \"kv-retrieval\"\ndepths = [0.5]\ntrials = 1\nchat_template = \"auto\"\n"
      "[tasks.longbench]\nplugin = \"longbench\"\ndata_dir = \"" +
      (fs::path(E2LLM_SHARED_DATA) / "longbench" / "rows").string() +
      "\"\ndatasets = [\"qasper\"]\nlimit = 1\nreserve = 200\nchat_template = \"auto\"\n";
  auto cells = sweep("framing", tasks, "[384]");
  ASSERT_EQ(cells.size(), 3u);
  for (const char* label : {"passkey", "kv", "longbench"}) {
    SCOPED_TRACE(label);
    const auto& framing = cells[label]["details"]["prompt_framing"];
    EXPECT_EQ(framing["chat_template"], "auto");
    EXPECT_EQ(framing["family"], "chatml");
    EXPECT_EQ(framing["source"], "tokenizer file");
    EXPECT_EQ(framing["default_system"], "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
    EXPECT_EQ(framing["bos"], false);
    EXPECT_EQ(framing["end_of_turn"], "<|im_end|>");
  }
  for (const char* label : {"passkey", "kv"}) {
    const auto& d = cells[label]["details"];
    EXPECT_LE(d["prompt_tokens_max"].get<int>(), d["target_tokens"].get<int>()) << label;
    EXPECT_EQ(d["target_tokens"].get<int>(), 384 - cells[label]["details"]["max_new_tokens"].get<int>()) << label;
  }
  EXPECT_EQ(cells["longbench"]["details"]["datasets"]["qasper"]["chat_template"], true);
}

TEST(ChatE2E, TemplateErrorsAreOneLine) {
  auto one_line = [](const e2llm::testing::CommandResult& r, const std::string& needle) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  };
  const fs::path vicuna = work() / "vicuna", bare = work() / "bare";
  for (const fs::path& dir : {vicuna, bare}) {
    fs::create_directories(dir);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
      fs::copy_file(smollm2_folder() / f, dir / f, fs::copy_options::overwrite_existing);
  }
  e2llm::util::write_file_atomic(vicuna / "chat_template.jinja",
                                 "{% for message in messages %}{{ 'USER: ' + message['content'] }}{% endfor %}");
  const std::string generate = kExe + " generate --model " + quote((work() / "model").string()) +
                               " --prompt hi --max-new-tokens 2 --threads 1 --tokenizer ";
  one_line(run_command(generate + quote((vicuna / "tokenizer.json").string()) + " --chat"),
           (vicuna / "tokenizer.json").string() +
               ": chat template not recognised (it starts with \"{% for message in messages %}{{ 'USER: ' + "
               "message['content'…\"); e2llm renders chatml, llama2, llama3, mistral, gemma, phi3, zephyr; name a "
               "family with --chat-template FAMILY, or leave out --chat");
  one_line(run_command(generate + quote((bare / "tokenizer.json").string()) + " --chat"),
           "--chat: the tokenizer file carries no chat template; name a family with --chat-template");
  // Named explicitly, the family is rendered whatever the file carries.
  const auto named = run_command(generate + quote((vicuna / "tokenizer.json").string()) + " --chat-template chatml");
  EXPECT_EQ(named.exit_code, 0) << named.err;
  const auto unknown = run_command(generate + quote((vicuna / "tokenizer.json").string()) + " --chat-template vicuna");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
}
