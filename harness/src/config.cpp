#include "e2llm/harness/config.hpp"

#include <toml++/toml.h>
#include <sstream>

#include "e2llm/config_reader.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string location(const std::string& file, const toml::source_region& src) {
  return file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

// TOML -> JSON, remembering where each key was written.
nlohmann::json to_json(const toml::node& node, const std::string& key, const std::string& file,
                       std::map<std::string, std::string>& locations) {
  if (!key.empty() && !locations.count(key)) locations[key] = location(file, node.source());
  if (auto* t = node.as_table()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto&& [k, v] : *t) {
      std::string child = key.empty() ? std::string(k.str()) : key + "." + std::string(k.str());
      locations[child] = location(file, k.source());  // errors point at the key, not its value
      out[std::string(k.str())] = to_json(v, child, file, locations);
    }
    return out;
  }
  if (auto* a = node.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    std::size_t i = 0;
    for (auto&& v : *a) out.push_back(to_json(v, key + "[" + std::to_string(i++) + "]", file, locations));
    return out;
  }
  if (auto* v = node.as_string()) return v->get();
  if (auto* v = node.as_integer()) return v->get();
  if (auto* v = node.as_floating_point()) return v->get();
  if (auto* v = node.as_boolean()) return v->get();
  std::ostringstream text;  // dates and times stay as their TOML text
  node.visit([&](auto&& v) {
    if constexpr (toml::is_date<decltype(v)> || toml::is_time<decltype(v)> || toml::is_date_time<decltype(v)>)
      text << v;
  });
  return text.str();
}

toml::table parse_toml(const std::string& text, const std::string& shown) {
  try {
    return toml::parse(text, shown);
  } catch (const toml::parse_error& e) {
    throw Error(location(shown, e.source()) + ": invalid TOML: " + printable(e.description()));
  }
}

// Puts `value` at the dotted `key` (tables made on the way) and blames it on `origin`: the file's
// locations of what it replaced (its keys and array items) go with it, so an error inside the new
// value names the option that set it. `shown` is what errors about the key itself quote.
void set_value(nlohmann::json& root, std::map<std::string, std::string>& locations, const std::string& key,
               nlohmann::json value, const std::string& origin, const std::string& shown) {
  nlohmann::json* node = &root;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = key.find('.', start);
    std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw Error(shown + ": empty key part in '" + printable(key) + "'");
    if (dot == std::string::npos) {
      (*node)[part] = std::move(value);
      break;
    }
    nlohmann::json& next = (*node)[part];
    if (next.is_null()) next = nlohmann::json::object();
    if (!next.is_object()) throw Error(shown + ": '" + printable(key.substr(0, dot)) + "' is not a table");
    node = &next;
    start = dot + 1;
  }
  for (auto it = locations.begin(); it != locations.end();)
    if (it->first.size() > key.size() && it->first.compare(0, key.size(), key) == 0 &&
        (it->first[key.size()] == '.' || it->first[key.size()] == '['))
      it = locations.erase(it);
    else
      ++it;
  locations[key] = origin;
}

void apply_override(nlohmann::json& root, std::map<std::string, std::string>& locations, const std::string& item) {
  auto eq = item.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error("--set " + printable(item) + ": expected KEY=VALUE, e.g. --set sweep.windows=[512,1024]");
  std::string key = item.substr(0, eq), text = item.substr(eq + 1);
  nlohmann::json value;
  try {
    toml::table t = toml::parse("v = " + text);
    std::map<std::string, std::string> ignored;
    value = to_json(*t.get("v"), "", "", ignored);
  } catch (const toml::parse_error&) {
    value = text;  // not a TOML literal: a bare string
  }
  set_value(root, locations, key, std::move(value), "--set " + printable(key), "--set " + printable(item));
}

}  // namespace

std::string printable(std::string_view text) {
  static const char* const hex = "0123456789abcdef";
  std::string out;
  for (unsigned char ch : text) {
    if (ch >= 0x20) {
      out += static_cast<char>(ch);
    } else {
      out += "\\x";
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

Config Config::from_string(const std::string& text, const std::string& shown,
                           const std::vector<std::string>& overrides) {
  Config c;
  c.path_ = shown;
  toml::table table = parse_toml(text, shown);
  c.root_ = to_json(table, "", shown, c.locations_);
  for (const auto& o : overrides) apply_override(c.root_, c.locations_, o);
  return c;
}

void Config::set(const std::string& dotted_key, nlohmann::json value, const std::string& origin) {
  set_value(root_, locations_, dotted_key, std::move(value), origin, origin);
}

Config Config::load(const fs::path& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw Error(
        "config " + path.string() +
        " does not exist; give the path of a TOML run config (the e2llm repository's configs/ folder has examples)");
  return from_string(util::read_file(path), path.string(), overrides);
}

fs::path Config::base_dir() const {
  fs::path dir = path_.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// A package path (pip:...) names a file by package, not by folder: kept as written.
fs::path Config::resolve(const std::string& path) const {
  fs::path p = path;
  return p.empty() || p.is_absolute() || util::is_package_path(path) ? p : (base_dir() / p).lexically_normal();
}

namespace {
void resolve_in_place(json& value, const fs::path& base_dir) {
  auto resolve_one = [&](json& v) {
    if (!v.is_string()) return;
    const std::string text = v.get<std::string>();
    fs::path p = text;
    if (!p.empty() && p.is_relative() && !util::is_package_path(text)) v = (base_dir / p).lexically_normal().string();
  };
  if (value.is_array()) {
    for (auto& item : value) resolve_one(item);
  } else {
    resolve_one(value);
  }
}

// The value at a dotted key, or null when a part of the path is missing or not a table.
json* find_dotted(json& root, const std::string& dotted) {
  json* at = &root;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = dotted.find('.', start);
    if (!at->is_object()) return nullptr;
    auto it = at->find(dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}
}  // namespace

json resolve_path_keys(const json& section, const std::vector<std::string>& path_keys, const fs::path& base_dir) {
  json out = section;
  for (const auto& key : path_keys)
    if (json* value = find_dotted(out, key)) resolve_in_place(*value, base_dir);
  return out;
}

std::string Config::where(const std::string& dotted_key) const {
  std::string key = dotted_key;
  while (!key.empty()) {
    auto it = locations_.find(key);
    if (it != locations_.end()) return it->second;
    auto cut = key.find_last_of(".[");
    key = cut == std::string::npos ? "" : key.substr(0, cut);
  }
  return path_.string();
}

Error Config::error_at(const std::string& dotted_key, const std::string& message) const {
  return Error(where(dotted_key) + ": " + printable(dotted_key) + ": " + message);
}

void Config::rethrow(const ConfigError& e, const std::string& section) const {
  std::string key = e.field().empty() ? section : section + "." + e.field();
  throw error_at(key, e.what());
}

namespace {
void json_to_toml(const nlohmann::json& j, toml::table& out);
toml::array json_to_toml_array(const nlohmann::json& j) {
  toml::array a;
  for (const auto& v : j) {
    if (v.is_object()) {
      toml::table t;
      json_to_toml(v, t);
      a.push_back(std::move(t));
    } else if (v.is_array()) {
      a.push_back(json_to_toml_array(v));
    } else if (v.is_string()) {
      a.push_back(v.get<std::string>());
    } else if (v.is_boolean()) {
      a.push_back(v.get<bool>());
    } else if (v.is_number_integer()) {
      a.push_back(v.get<std::int64_t>());
    } else if (v.is_number()) {
      a.push_back(v.get<double>());
    }
  }
  return a;
}
void json_to_toml(const nlohmann::json& j, toml::table& out) {
  for (const auto& [k, v] : j.items()) {
    if (v.is_object()) {
      toml::table t;
      json_to_toml(v, t);
      out.insert(k, std::move(t));
    } else if (v.is_array()) {
      out.insert(k, json_to_toml_array(v));
    } else if (v.is_string()) {
      out.insert(k, v.get<std::string>());
    } else if (v.is_boolean()) {
      out.insert(k, v.get<bool>());
    } else if (v.is_number_integer()) {
      out.insert(k, v.get<std::int64_t>());
    } else if (v.is_number()) {
      out.insert(k, v.get<double>());
    }
  }
}
}  // namespace

std::string Config::to_toml() const {
  toml::table t;
  json_to_toml(root_, t);
  std::ostringstream out;
  out << t << "\n";
  return out.str();
}

namespace {
// The harness's own sections and their keys. Plugin sections ([backends.X], [tasks.X])
// accept any key besides `plugin`; the plugin checks the rest.
const std::map<std::string, std::vector<std::string>>& harness_schema() {
  static const std::map<std::string, std::vector<std::string>> schema = {
      {"run", {"name", "out", "seed", "threads", "device", "dtype", "description"}},
      {"plugins", {"path"}},
      {"tokenizer", {"plugin", "model", "train"}},
      {"base", {"source", "path", "window", "pretrain"}},
      {"train", {}},
      {"backends", {}},
      {"tasks", {}},
      {"sweep", {"windows", "backends", "tasks", "seeds"}},  // the evaluation seed is [run] seed
      {"report", {"base", "reference", "level", "resamples", "groups"}},
  };
  return schema;
}
}  // namespace

void validate_harness_keys(const Config& config) {
  const auto& schema = harness_schema();
  std::vector<std::string> sections;
  for (const auto& [name, keys] : schema) sections.push_back(name);
  for (const auto& [section, value] : config.json().items()) {
    auto it = schema.find(section);
    if (it == schema.end()) {
      std::string hint = closest_match(section, sections);
      throw config.error_at(section, "unknown section" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
    if (!value.is_object()) throw config.error_at(section, "expected a table");
    if (section == "backends" || section == "tasks") {
      for (const auto& [label, body] : value.items()) {
        if (!body.is_object()) throw config.error_at(section + "." + label, "expected a table");
        if (body.contains("plugin") && !body["plugin"].is_string())
          throw config.error_at(section + "." + label + ".plugin", "expected a string (a plugin name)");
      }
      continue;
    }
    if (it->second.empty()) continue;  // free-form section, checked by its consumer
    for (const auto& [key, v] : value.items()) {
      (void)v;
      if (std::find(it->second.begin(), it->second.end(), key) != it->second.end()) continue;
      std::string hint = closest_match(key, it->second);
      throw config.error_at(section + "." + key,
                            "unknown key" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
  }
}

}  // namespace e2llm::harness
