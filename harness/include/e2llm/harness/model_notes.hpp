// A model's notes: what its file does not say, told once in a small TOML file beside it
// (docs/models.md, "A model's notes"). Today one fact: the window the model was trained at,
// for checkpoints whose declared context differs (stories260K's GGUF says 2048; it was trained
// at 512). The CLI commands that open a model read it when no --original-window is given.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace e2llm::harness {

struct ModelNotes {
  std::filesystem::path file;        // where the notes were read from
  std::int64_t original_window = 0;  // L; 0 = not said
};

// "<model>.e2llm.toml" beside a model file, "<folder>/e2llm.toml" inside a Hugging Face folder
// (a `pip:` path: beside the file it names).
std::filesystem::path model_notes_path(const std::filesystem::path& model);

// The notes of `model`, or nothing when it has none. A notes file that is not valid TOML, holds
// an unknown key or a bad value is an e2llm::Error naming FILE:LINE:COL and the key.
std::optional<ModelNotes> read_model_notes(const std::filesystem::path& model);

// L from the model's notes, or 0 when they say none; when they do, one line on stderr says so,
// prefixed with `who` ("e2llm", "e2llm train"). What every command calls when no flag or config
// key gives L.
std::int64_t original_window_from_notes(const std::filesystem::path& model, const std::string& who);

}  // namespace e2llm::harness
