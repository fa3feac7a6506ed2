#include "e2llm/harness/model_notes.hpp"

#include <fmt/core.h>

#include "e2llm/harness/config.hpp"
#include "e2llm/util/package_path.hpp"

namespace e2llm::harness {

namespace fs = std::filesystem;

fs::path model_notes_path(const fs::path& model) {
  const fs::path path = util::resolve_user_path(model.string());  // "pip:<package>/<file>" too
  std::error_code ec;
  if (fs::is_directory(path, ec)) return path / "e2llm.toml";
  fs::path notes = path;
  notes += ".e2llm.toml";
  return notes;
}

std::optional<ModelNotes> read_model_notes(const fs::path& model) {
  const fs::path path = model_notes_path(model);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  const Config notes = Config::load(path);  // errors name FILE:LINE:COL
  ModelNotes out;
  out.file = path;
  for (const auto& [key, value] : notes.json().items()) {
    if (key != "original_window")
      throw notes.error_at(key,
                           "unknown key in a model's notes (known: original_window, the window the model "
                           "was trained at)");
    if (!value.is_number_integer() || value.get<std::int64_t>() < 1)
      throw notes.error_at(key, "must be a whole number of tokens >= 1");
    out.original_window = value.get<std::int64_t>();
  }
  return out;
}

std::int64_t original_window_from_notes(const fs::path& model, const std::string& who) {
  const auto notes = read_model_notes(model);
  if (!notes || notes->original_window < 1) return 0;
  fmt::print(stderr, "{}: note: L = {} (the model's notes, {})\n", who, notes->original_window, notes->file.string());
  return notes->original_window;
}

}  // namespace e2llm::harness
