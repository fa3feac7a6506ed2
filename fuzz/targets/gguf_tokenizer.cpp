// The tokenizer inside a GGUF (the gguf tokenizer plugin, `e2llm tokenizer --model X.gguf`, a
// model used without --tokenizer): the format reader, the tokenizer.* keys, then what the
// plugin does next with an accepted file — encode text of every kind and decode ids.
#include "gguf_tokenizer.hpp"
#include "e2llm/formats/gguf_reader.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {

bool one_input(const uint8_t* data, size_t size) {
  const std::string name = "fuzz-input.gguf";
  return expect_contract(
      [&] {
        const auto tokenizer = gguftok::tokenizer_from_gguf(formats::gguf::read(data, size, name, nullptr));
        for (const char* text : {"", " ", "Hello world", "  two  spaces\n\ttab", "123 4567 \xC2\xB2", "caf\xC3\xA9",
                                 "\xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x99\x82", "<s></s><|im_start|>",
                                 "a\xFF"
                                 "b"}) {
          const std::vector<std::int32_t> ids = tokenizer->encode(text);
          for (std::int32_t id : ids)
            if (id < 0 || id >= tokenizer->size())
              fail("encode gave id " + std::to_string(id) + " outside the vocabulary");
          (void)tokenizer->decode(ids);
        }
        std::vector<std::int32_t> all;
        for (std::int32_t id = 0; id < tokenizer->size() && id < 600; ++id) all.push_back(id);
        (void)tokenizer->decode(all);
      },
      {name});
}

}  // namespace e2llm::fuzz
