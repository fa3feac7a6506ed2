// The text of the passkey probe of Landmark attention (Mohtashami & Jaggi 2023,
// epfml/landmark-attention), as used by PI, YaRN, LongLoRA and PoSE (docs/protocols.md §Passkey):
//
//   <task description>\n<prefix>\nThe pass key is K. Remember it. K is the pass key.\n<suffix>\n<question>
//
// prefix and suffix are both cut from the start of the filler repeated (joined by spaces).
// Plain text, no tokenizer: the passkey task sizes it to a window, and the trainer's retrieval
// mix (backends/llama) writes training rows with it, so the wording lives here, below both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace e2llm::taskkit::passkey_text {

inline constexpr const char* kTaskDescription =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you "
    "about the important information there.";
inline constexpr const char* kFiller =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
inline constexpr const char* kQuestion = "What is the pass key? The pass key is";
inline constexpr std::int64_t kKeyMin = 1, kKeyMax = 50000;

// The first `chars` characters of the filler repeated, copies joined by a space.
std::string filler_prefix(std::size_t chars);

// The information line for `key`.
std::string key_line(std::int64_t key);

// The prompt text for given filler lengths (characters).
std::string prompt_text(std::int64_t key, std::size_t prefix_chars, std::size_t suffix_chars);

}  // namespace e2llm::taskkit::passkey_text
