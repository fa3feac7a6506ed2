// Run configuration: a TOML file plus --set overrides, converted to JSON for plugins, with
// every value's source location kept so that any error can name file:line:column.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "e2llm/error.hpp"

namespace e2llm::harness {

class Config {
 public:
  // Parses `path` and applies `overrides` ("a.b=value"; value parsed as a TOML value, or
  // taken as a string when it is not one). Throws e2llm::Error "FILE:LINE:COL: ...".
  static Config load(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
  static Config from_string(const std::string& text, const std::string& shown_name,
                            const std::vector<std::string>& overrides = {});

  // Sets a value given by a command-line option (e.g. `--device`) as a value, not as TOML text;
  // errors about the key name `origin` ("--device") rather than a line of the file.
  void set(const std::string& dotted_key, nlohmann::json value, const std::string& origin);

  const nlohmann::json& json() const { return root_; }
  const std::filesystem::path& path() const { return path_; }
  // The folder relative paths in the config are resolved against (the file's folder).
  std::filesystem::path base_dir() const;
  // A path written in the config: relative ones are resolved against base_dir().
  std::filesystem::path resolve(const std::string& path) const;

  // "FILE:LINE:COL" of a dotted key (or of its closest written parent), or "--set KEY".
  std::string where(const std::string& dotted_key) const;
  // An error about a key, located: "FILE:LINE:COL: KEY: message".
  Error error_at(const std::string& dotted_key, const std::string& message) const;
  // Re-throws a plugin's ConfigError for the section at `section` with its location.
  [[noreturn]] void rethrow(const ConfigError& e, const std::string& section) const;

  // The resolved config as TOML text (what `e2llm config show` prints).
  std::string to_toml() const;

 private:
  nlohmann::json root_ = nlohmann::json::object();
  std::filesystem::path path_;
  std::map<std::string, std::string> locations_;  // dotted key -> "FILE:LINE:COL" or "--set KEY"
};

// The one rule for paths inside a plugin's section (`e2llm sweep` and `e2llm train`): the
// values of `path_keys` (dotted for nested keys, as the plugin's info() declares them) that
// are relative paths, written as a string or as a list of strings, are resolved against
// `base_dir`. Everything else is returned as written.
nlohmann::json resolve_path_keys(const nlohmann::json& section, const std::vector<std::string>& path_keys,
                                 const std::filesystem::path& base_dir);

// Text from a config or a --set item made safe for a one-line message: control bytes
// (a newline in a quoted key, an escape sequence) become \xNN.
std::string printable(std::string_view text);

// Checks the top-level schema the harness itself owns (sections and their keys), with
// "did you mean" for unknown keys. Plugin sections are checked by the plugins.
void validate_harness_keys(const Config& config);

}  // namespace e2llm::harness
