// The sweep's view of a run config: checked field by field with located errors.
#include <algorithm>
#include <set>

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/harness/sweep.hpp"
#include "e2llm/harness/tokenizer_choice.hpp"
#include "e2llm/util/device_name.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;

namespace {

const nlohmann::json& section_or_empty(const nlohmann::json& root, const std::string& name) {
  static const nlohmann::json empty = nlohmann::json::object();
  auto it = root.find(name);
  return it == root.end() ? empty : *it;
}

std::string get_string(const Config& c, const nlohmann::json& table, const std::string& section, const std::string& key,
                       const std::string& fallback, bool required = false) {
  auto it = table.find(key);
  if (it == table.end()) {
    if (required) throw c.error_at(section, "needs '" + key + "'");
    return fallback;
  }
  if (!it->is_string()) throw c.error_at(section + "." + key, "expected a string");
  return it->get<std::string>();
}

std::int64_t get_int(const Config& c, const nlohmann::json& table, const std::string& section, const std::string& key,
                     std::int64_t fallback, std::int64_t min_value, bool required = false) {
  auto it = table.find(key);
  if (it == table.end()) {
    if (required) throw c.error_at(section, "needs '" + key + "'");
    return fallback;
  }
  if (!it->is_number_integer()) throw c.error_at(section + "." + key, "expected an integer");
  auto v = it->get<std::int64_t>();
  if (v < min_value) throw c.error_at(section + "." + key, "must be at least " + std::to_string(min_value));
  return v;
}

std::vector<PluginSection> plugin_sections(const Config& c, const std::string& group) {
  std::vector<PluginSection> out;
  for (const auto& [label, body] : section_or_empty(c.json(), group).items()) {
    PluginSection s;
    s.label = label;
    s.section = group + "." + label;
    s.plugin = get_string(c, body, s.section, "plugin", label);  // the label names the plugin by default
    s.config_as_written = body;
    s.config_as_written.erase("plugin");
    out.push_back(std::move(s));
  }
  return out;
}

// Keeps the sections named in [sweep] <key> (in that order), or all of them.
std::vector<PluginSection> filter(const Config& c, std::vector<PluginSection> all, const nlohmann::json& sweep,
                                  const std::string& key, const std::string& group) {
  auto it = sweep.find(key);
  if (it == sweep.end()) return all;
  if (!it->is_array()) throw c.error_at("sweep." + key, "expected an array of " + group + " labels");
  std::vector<std::string> labels;
  for (const auto& s : all) labels.push_back(s.label);
  std::vector<PluginSection> kept;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& v = (*it)[i];
    std::string where = "sweep." + key + "[" + std::to_string(i) + "]";
    if (!v.is_string()) throw c.error_at(where, "expected a label (a string)");
    auto label = v.get<std::string>();
    auto found = std::find_if(all.begin(), all.end(), [&](const PluginSection& s) { return s.label == label; });
    if (found == all.end()) {
      std::string hint = closest_match(label, labels);
      throw c.error_at(where, "no [" + group + "." + printable(label) + "] section" +
                                  (hint.empty() ? "" : "; did you mean '" + printable(hint) + "'?"));
    }
    if (std::any_of(kept.begin(), kept.end(), [&](const PluginSection& s) { return s.label == label; }))
      throw c.error_at(where, "lists '" + printable(label) + "' twice");
    kept.push_back(*found);
  }
  return kept;
}

void parse_seeds(const Config& c, const nlohmann::json& sweep, SweepSpec& s) {
  auto seeds = sweep.find("seeds");
  if (seeds == sweep.end()) return;
  if (!seeds->is_array() || seeds->empty())
    throw c.error_at("sweep.seeds", "expected a non-empty array of training seeds, e.g. seeds = [1, 2, 3]");
  std::set<std::uint64_t> seen;
  for (std::size_t i = 0; i < seeds->size(); ++i) {
    const auto& v = (*seeds)[i];
    std::string where = "sweep.seeds[" + std::to_string(i) + "]";
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0) throw c.error_at(where, "expected an integer >= 0");
    if (!seen.insert(v.get<std::uint64_t>()).second) throw c.error_at(where, "repeats seed " + v.dump());
    s.seeds.push_back(v.get<std::uint64_t>());
  }
}

void parse_report(const Config& c, const nlohmann::json& root, SweepSpec& s) {
  const auto& report = section_or_empty(root, "report");
  s.report = report_settings_from_json(report, [&](const std::string& field, const std::string& message) {
    throw c.error_at(field.empty() ? "report" : "report." + field, message);
  });
  std::vector<std::string> labels;
  for (const auto& b : s.backends) labels.push_back(b.label);
  auto check = [&](const std::string& label, const std::string& field) {
    if (label.empty() || std::find(labels.begin(), labels.end(), label) != labels.end()) return;
    std::string hint = closest_match(label, labels);
    throw c.error_at("report." + field, "'" + printable(label) + "' is not a backend of this sweep" +
                                            (hint.empty() ? "" : "; did you mean '" + printable(hint) + "'?"));
  };
  check(s.report.base, "base");
  check(s.report.reference, "reference");
  for (std::size_t g = 0; g < s.report.groups.size(); ++g)
    for (std::size_t i = 0; i < s.report.groups[g].backends.size(); ++i)
      check(s.report.groups[g].backends[i], "groups[" + std::to_string(g) + "].backends[" + std::to_string(i) + "]");
}

}  // namespace

SweepSpec parse_sweep_spec(const Config& c, const std::optional<fs::path>& out_override) {
  validate_harness_keys(c);
  SweepSpec s;
  s.config = c;
  const auto& root = c.json();

  const auto& run = section_or_empty(root, "run");
  s.name = get_string(c, run, "run", "name", c.path().stem().string());
  if (s.name.empty() || s.name.find('/') != std::string::npos)
    throw c.error_at("run.name", "must be a non-empty name without '/'");
  // Outputs are relative to where e2llm runs (like --out), not to the config's folder.
  s.out = out_override ? *out_override : fs::path(get_string(c, run, "run", "out", "results/" + s.name));
  s.seed = static_cast<std::uint64_t>(get_int(c, run, "run", "seed", 0, 0));
  s.threads = static_cast<int>(get_int(c, run, "run", "threads", 0, 0));
  s.device = get_string(c, run, "run", "device", "");
  if (!s.device.empty() && !util::parse_device_name(s.device))
    throw c.error_at("run.device", "must be \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", not \"" + s.device + "\"");
  s.dtype = get_string(c, run, "run", "dtype", "");
  if (!s.dtype.empty() && s.dtype != "float32" && s.dtype != "bfloat16")
    throw c.error_at("run.dtype", "must be \"float32\" or \"bfloat16\", not \"" + s.dtype + "\"");

  const auto& plugins = section_or_empty(root, "plugins");
  if (auto it = plugins.find("path"); it != plugins.end()) {
    if (it->is_string()) {
      s.plugin_paths.push_back(c.resolve(it->get<std::string>()));
    } else if (it->is_array()) {
      for (std::size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) throw c.error_at("plugins.path[" + std::to_string(i) + "]", "expected a folder");
        s.plugin_paths.push_back(c.resolve((*it)[i].get<std::string>()));
      }
    } else {
      throw c.error_at("plugins.path", "expected a folder or an array of folders");
    }
  }

  const auto& base = section_or_empty(root, "base");
  if (!root.contains("base")) throw c.error_at("base", "the config needs a [base] section (source, path, window)");
  s.base_source = get_string(c, base, "base", "source", "", true);
  if (s.base_source != "gguf" && s.base_source != "hf" && s.base_source != "pretrain")
    throw c.error_at("base.source",
                     "must be \"gguf\", \"hf\" or \"pretrain\", not \"" + printable(s.base_source) + "\"");
  s.original_window = get_int(c, base, "base", "window", 0, 1, true);
  if (s.base_source == "pretrain") {
    if (base.contains("path")) throw c.error_at("base.path", "is not used with source = \"pretrain\"; remove it");
    if (!base.contains("pretrain") || !base["pretrain"].is_object())
      throw c.error_at("base",
                       "source = \"pretrain\" needs a [base.pretrain] table (plugin = \"<trainer backend>\", ...)");
    PluginSection p;
    p.label = "base.pretrain";
    p.section = "base.pretrain";
    p.plugin = get_string(c, base["pretrain"], "base.pretrain", "plugin", "", true);
    p.config_as_written = base["pretrain"];
    p.config_as_written.erase("plugin");
    s.pretrain = std::move(p);
  } else {
    s.base_path = c.resolve(get_string(c, base, "base", "path", "", true));
    if (base.contains("pretrain")) throw c.error_at("base.pretrain", "is only used with source = \"pretrain\"");
  }

  // [tokenizer] model, or the base model's own tokenizer (a GGUF's tokenizer.* keys, an HF
  // folder's tokenizer.json / tokenizer.model). Cell keys hold its fingerprint, not its path.
  const auto& tok = section_or_empty(root, "tokenizer");
  if (tok.contains("model") || s.base_source == "pretrain") {
    if (!tok.contains("model"))
      throw c.error_at("tokenizer",
                       "needs 'model': a pretrained base (source = \"pretrain\") has no tokenizer of its own");
    s.tokenizer_model = c.resolve(get_string(c, tok, "tokenizer", "model", "", true));
  } else {
    try {
      s.tokenizer_model = tokenizer_of_model(s.base_path, "set [tokenizer] model");
    } catch (const Error& e) {
      throw c.error_at("base.path", e.what());
    }
    s.tokenizer_key = "base.path";
  }
  s.tokenizer_plugin = tokenizer_plugin_for(s.tokenizer_model, get_string(c, tok, "tokenizer", "plugin", ""));

  const auto& sweep = section_or_empty(root, "sweep");
  s.backends = filter(c, plugin_sections(c, "backends"), sweep, "backends", "backends");
  s.tasks = filter(c, plugin_sections(c, "tasks"), sweep, "tasks", "tasks");
  if (s.backends.empty()) throw c.error_at("backends", "the sweep needs at least one [backends.<label>] section");
  if (s.tasks.empty()) throw c.error_at("tasks", "the sweep needs at least one [tasks.<label>] section");

  auto windows = sweep.find("windows");
  if (windows == sweep.end()) throw c.error_at("sweep", "needs 'windows' (e.g. windows = [512, 1024, 2048])");
  if (!windows->is_array() || windows->empty())
    throw c.error_at("sweep.windows", "expected a non-empty array of window sizes");
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < windows->size(); ++i) {
    const auto& w = (*windows)[i];
    std::string where = "sweep.windows[" + std::to_string(i) + "]";
    if (!w.is_number_integer() || w.get<std::int64_t>() < 1) throw c.error_at(where, "expected a positive integer");
    if (!seen.insert(w.get<std::int64_t>()).second) throw c.error_at(where, "repeats window " + w.dump());
    s.windows.push_back(w.get<std::int64_t>());
  }
  parse_seeds(c, sweep, s);
  parse_report(c, root, s);
  return s;
}

}  // namespace e2llm::harness
