// Encoding throughput of a tokenizer plugin on one text file, on the calling thread: the
// first encode on a freshly loaded tokenizer (cold word cache) and the best of --repeat
// further encodes (warm). Prints one JSON line; bench/run_tokenizer.sh runs it beside the
// Hugging Face `tokenizers` twin (tokenizer_twin.py).
//   tokenizer_bench TOKENIZER TEXT_FILE [--plugin NAME] [--repeat N]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "e2llm/harness/registry.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"
#include "e2llm/util/files.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tokenizer_bench TOKENIZER TEXT_FILE [--plugin NAME] [--repeat N]\n");
    return 2;
  }
  std::string plugin;
  int repeat = 5;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--plugin")) plugin = argv[i + 1];
    if (!std::strcmp(argv[i], "--repeat")) repeat = std::stoi(argv[i + 1]);
  }
  try {
    e2llm::harness::PluginRegistry registry(e2llm::harness::PluginRegistry::default_folders());
    auto tokenizer = registry.make_tokenizer(e2llm::harness::tokenizer_plugin_for(argv[1], plugin));
    tokenizer->load(argv[1]);
    const std::string text = e2llm::util::read_file(argv[2]);
    using clock = std::chrono::steady_clock;
    auto time_encode = [&](std::size_t& tokens, std::uint64_t& checksum) {
      auto start = clock::now();
      auto ids = tokenizer->encode(text);
      double seconds = std::chrono::duration<double>(clock::now() - start).count();
      tokens = ids.size();
      checksum = 0;
      for (auto id : ids) checksum = checksum * 1000003u + static_cast<std::uint64_t>(id);
      return seconds;
    };
    std::size_t tokens = 0;
    std::uint64_t checksum = 0;
    const double cold = time_encode(tokens, checksum);
    double warm = cold;
    for (int i = 0; i < repeat; ++i) warm = std::min(warm, time_encode(tokens, checksum));
    nlohmann::json out = {{"impl", "e2llm"},
                          {"tokenizer", argv[1]},
                          {"bytes", text.size()},
                          {"tokens", tokens},
                          {"checksum", checksum % 1000000007u},
                          {"cold_s", cold},
                          {"warm_s", warm},
                          {"repeat", repeat}};
    std::printf("%s\n", out.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
