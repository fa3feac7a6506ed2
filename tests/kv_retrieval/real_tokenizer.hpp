// The real SentencePiece tokenizer plugin with the project's tok512 model, loaded as the
// harness loads it (RTLD_DEEPBIND: docs/pitfalls.md, "SentencePiece and LibTorch").
#pragma once

#include <gtest/gtest.h>

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <memory>

#include "e2llm/plugin.hpp"
#include "e2llm/taskkit/prompt_framing.hpp"
#include "e2llm/tokenizer.hpp"

namespace kvtest {

struct RealTokenizer {
  boost::dll::shared_library library;
  std::unique_ptr<e2llm::Tokenizer> tokenizer;
};

inline const e2llm::Tokenizer& tok512() {
  static RealTokenizer real = [] {
    namespace fs = std::filesystem;
    RealTokenizer r;
    const fs::path so = fs::path(E2LLM_PLUGIN_DIR) / "libe2llm_tokenizer_sentencepiece.so";
    const fs::path model = fs::path(E2LLM_SHARED_DATA) / "models" / "tok512.model";
    r.library.load(so.string(), boost::dll::load_mode::rtld_deepbind | boost::dll::load_mode::rtld_local);
    auto entry = r.library.get<const e2llm::PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME);
    r.tokenizer.reset(static_cast<e2llm::Tokenizer*>(entry()->create()));
    r.tokenizer->load(model.string());
    return r;
  }();
  return *real.tokenizer;
}

// The framing before chat templates: BOS always, the text as is.
inline e2llm::taskkit::PromptFraming bos_always(const e2llm::Tokenizer& tok) {
  return e2llm::taskkit::PromptFraming(tok, {"none", e2llm::taskkit::BosRule::always}, "");
}

}  // namespace kvtest
