// The proofpile corpus (`[tasks.proofpile] data`): JSONL rows {"text", "meta"}.
#include "documents.hpp"
#include "fuzz_support.hpp"

namespace e2llm::fuzz {

bool one_input(const uint8_t* data, size_t size) {
  const auto path = write_scratch("eval.jsonl", {reinterpret_cast<const char*>(data), size});
  return expect_contract(
      [&] {
        (void)proofpile::read_documents({path});
        (void)proofpile::data_fingerprint({path});
      },
      {path.string()});
}

}  // namespace e2llm::fuzz
