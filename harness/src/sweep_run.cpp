// The sweep runner: plugins -> prepare -> plan -> cells. See docs/results-schema.md.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "e2llm/harness/cell_store.hpp"
#include "e2llm/harness/report.hpp"
#include "e2llm/harness/sweep.hpp"
#include "e2llm/harness/version.hpp"
#include "e2llm/harness/view_json.hpp"
#include "e2llm/util/device_name.hpp"
#include "e2llm/util/files.hpp"
#include "e2llm/util/package_path.hpp"
#include "e2llm/util/sha256.hpp"
#include "peak_memory.hpp"
#include "sweep_progress.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

json host_info(int threads) {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return {{"hostname", name},
          {"nproc", static_cast<long>(sysconf(_SC_NPROCESSORS_ONLN))},
          {"threads", threads},
          {"pid", static_cast<long>(getpid())}};
}

// Runs fn; a plugin's ConfigError becomes a located error in `section`, other errors are
// prefixed with `what`.
template <class F>
auto located(const Config& c, const std::string& section, const std::string& what, F&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const ConfigError& e) {
    c.rethrow(e, section);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

// One prepared backend: a config section, or with a seed axis one of its training seeds
// (each seed its own plugin object, trained and opened with that seed).
struct LoadedBackend {
  const PluginSection* spec;
  std::shared_ptr<Backend> plugin;
  BackendInfo info;
  json config;  // the section with the plugin's path keys resolved: what configure() got
  json prepare_inputs;
  std::string inputs_hash;
  std::optional<json> saved;  // <out>/backends/<record_name()>.json (record + inputs)
  std::optional<std::uint64_t> training_seed;
  // "label", or "label.seed-S" for one seed of a seed axis: its prepare record's file name.
  std::string record_name() const {
    return training_seed ? spec->label + ".seed-" + std::to_string(*training_seed) : spec->label;
  }
  // For progress lines and errors: "label" or "label (seed S)".
  std::string shown() const {
    return training_seed ? spec->label + " (seed " + std::to_string(*training_seed) + ")" : spec->label;
  }
};

struct LoadedTask {
  const PluginSection* spec;
  std::shared_ptr<Task> plugin;
  TaskInfo info;
  json config;  // as LoadedBackend::config
  std::string fingerprint;
};

struct PlannedCell {
  std::size_t backend, task;
  std::int64_t window;
  std::string key;  // empty when the backend's prepare record is unknown (dry run)
  bool done = false;
  std::optional<std::int64_t> items;  // the task's planned item count at this window
};

json metrics_info(const TaskInfo& info) {
  json out = json::array();
  for (const auto& m : info.metrics) out.push_back({{"name", m.name}, {"higher_is_better", m.higher_is_better}});
  return out;
}

// The base as a backend's prepare inputs name it: by content, not by where it sits. Its path
// is spelt relative to the working folder, so a run folder moved (or mounted elsewhere on
// another node) would not match its own records; the content hash (files) or the pretrained
// checkpoint's hash identifies it instead.
json base_identity(const json& base) {
  json out = base;
  if (out.is_object()) out.erase("path");
  return out;
}

// Whether a saved prepare record was made for these inputs. Records written before the inputs
// named the base by content (they hold base.path and no base.content_sha256) match when
// everything but the base's path and content hash agrees: the dry run then trusts the path-free
// rest, and the real run prepares again and rewrites the record in the current form.
bool same_prepare_inputs(const json& saved, const json& inputs, const std::string& inputs_hash) {
  if (saved.value("prepare_inputs_hash", "") == inputs_hash) return true;
  if (!saved.contains("prepare_inputs") || !saved["prepare_inputs"].is_object()) return false;
  json old = saved["prepare_inputs"];
  if (!old.contains("base") || !old["base"].is_object() || !old["base"].contains("path") ||
      old["base"].contains("content_sha256"))
    return false;
  old["base"].erase("path");
  json now = inputs;
  if (now.contains("base") && now["base"].is_object()) now["base"].erase("content_sha256");
  return old == now;
}

std::optional<json> read_saved_record(const fs::path& path, const json& inputs, const std::string& inputs_hash) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  try {
    json saved = json::parse(util::read_file(path));
    if (saved.contains("record") && same_prepare_inputs(saved, inputs, inputs_hash)) return saved;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// sha256 of a base model's bytes: the file, or every visible regular file of a folder (names
// in order, then each file's digest). Format-agnostic, so any base the backends accept has one.
std::string base_content_sha256(const fs::path& spec) {
  const fs::path path = util::resolve_user_path(spec.string());  // "pip:<package>/<file>" too
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return util::sha256_file(path);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path))
    if (entry.is_regular_file() && entry.path().filename().string().rfind('.', 0) != 0) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  util::Sha256 h;
  h.update("e2llm-base-folder-v1\n");
  for (const auto& f : files) h.update(f.filename().string() + '\0' + util::sha256_file(f) + '\n');
  return h.hex_digest();
}

class SweepRunner {
 public:
  SweepRunner(const SweepSpec& spec, PluginRegistry& registry, const SweepOptions& options)
      : s_(spec), c_(spec.config), registry_(registry), options_(options), store_(spec.out / "cells") {}

  int run() {
    if (s_.threads > 0) {  // read by OpenMP / LibTorch when they start their pools
      setenv("OMP_NUM_THREADS", std::to_string(s_.threads).c_str(), 0);
      setenv("E2LLM_THREADS", std::to_string(s_.threads).c_str(), 0);
    }
    check_device_visible();
    load_plugins();
    // A run folder this process creates is removed again if the run fails before anything
    // worth keeping is in it (a cell, a prepare record, a training's files): a bad window or
    // device leaves no half-made folder behind.
    std::error_code ec;
    const bool fresh = !options_.dry_run && !fs::exists(s_.out, ec);
    try {
      if (!options_.dry_run) {
        // Temp files of a sweep killed mid-write (cells, records, records of prepare, the
        // backends' caches); a live process's are kept.
        util::remove_stale_temp_files(s_.out, /*recursive=*/true);
        write_sweep_json();
      }
      resolve_base();
      prepare_backends();
      plan();
      if (options_.dry_run) return print_plan();
      write_sweep_json();  // again, now with the plan's cell keys: the report shows these cells only
      compute();
    } catch (...) {
      if (fresh && !holds_results(s_.out)) fs::remove_all(s_.out, ec);
      throw;
    }
    return 0;
  }

 private:
  // [run] device / --device naming CUDA on a machine that shows no NVIDIA GPU fails now, in
  // the dry run too, rather than after the folder is made and the plugins are loaded.
  void check_device_visible() const {
    if (!util::is_cuda_device(s_.device)) return;
    std::error_code ec;
    std::size_t gpus = 0;
    for (auto it = fs::directory_iterator("/proc/driver/nvidia/gpus", ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
      ++gpus;
    if (gpus == 0 && fs::exists("/dev/nvidia0", ec)) gpus = 1;
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    if (visible && (std::string(visible).empty() || std::string(visible) == "-1")) gpus = 0;
    if (gpus == 0)
      throw c_.error_at("run.device", "\"" + s_.device +
                                          "\" but this machine shows no NVIDIA GPU (no /proc/driver/nvidia/gpus, no "
                                          "/dev/nvidia0, or CUDA_VISIBLE_DEVICES hides them): use \"auto\" or \"cpu\"");
  }

  // Whether a run folder holds anything but its sweep.json, locks and temp files.
  static bool holds_results(const fs::path& out) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(out, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string name = it->path().filename().string();
      if (name == "sweep.json" || it->path().extension() == ".lock" || name.find(".tmp") != std::string::npos) continue;
      return true;
    }
    return false;
  }

  void load_plugins() {
    try {
      tokenizer_ = registry_.make_tokenizer(s_.tokenizer_plugin);
    } catch (const Error& e) {
      throw c_.error_at("tokenizer.plugin", e.what());
    }
    try {
      tokenizer_->load(s_.tokenizer_model.string());
    } catch (const Error& e) {
      throw c_.error_at(s_.tokenizer_key, e.what());
    }
    // Configure everything before anything slow runs: a typo fails in a second, not after training.
    for (const auto& b : s_.backends) {
      LoadedBackend first = load_backend(b);
      if (s_.seeds.empty() || !first.info.trains) {
        backends_.push_back(std::move(first));
        continue;
      }
      // A seed axis: one plugin object per training seed (each holds its own trained model).
      for (std::size_t i = 0; i < s_.seeds.size(); ++i) {
        LoadedBackend seeded = i == 0 ? std::move(first) : load_backend(b);
        seeded.training_seed = s_.seeds[i];
        backends_.push_back(std::move(seeded));
      }
    }
    for (const auto& t : s_.tasks) tasks_.push_back(load_task(t));
    if (s_.pretrain) trainer_ = load_backend(*s_.pretrain);
  }

  // The section as configure() gets it: the plugin's declared path keys resolved against
  // the config file's folder.
  json with_paths(const PluginSection& p, const std::vector<std::string>& path_keys) const {
    return resolve_path_keys(p.config_as_written, path_keys, c_.base_dir());
  }

  LoadedBackend load_backend(const PluginSection& b) {
    LoadedBackend out{&b, nullptr, {}, {}, {}, {}, {}, {}};
    try {
      out.plugin = registry_.make_backend(b.plugin);
    } catch (const Error& e) {
      throw c_.error_at(b.section + ".plugin", e.what());
    }
    out.config = with_paths(b, out.plugin->info().path_keys);
    located(c_, b.section, "backend '" + b.label + "'", [&] { out.plugin->configure(out.config); });
    out.info = out.plugin->info();  // after configure: `trains` may depend on the config
    return out;
  }

  LoadedTask load_task(const PluginSection& t) {
    LoadedTask out{&t, nullptr, {}, {}, {}};
    try {
      out.plugin = registry_.make_task(t.plugin);
    } catch (const Error& e) {
      throw c_.error_at(t.section + ".plugin", e.what());
    }
    out.info = out.plugin->info();
    out.config = with_paths(t, out.info.path_keys);
    located(c_, t.section, "task '" + t.label + "'", [&] {
      out.plugin->configure(out.config);
      SweepInfo sweep{s_.windows, s_.original_window, tokenizer_.get()};
      std::sort(sweep.windows.begin(), sweep.windows.end());
      out.plugin->set_sweep(sweep);
    });
    out.fingerprint = out.plugin->fingerprint();
    return out;
  }

  void write_sweep_json() {
    json backends = json::array(), tasks = json::array();
    for (const auto& b : s_.backends) backends.push_back({{"label", b.label}, {"plugin", b.plugin}});
    for (const auto& t : s_.tasks) tasks.push_back({{"label", t.label}, {"plugin", t.plugin}});
    // No machine path: the config file relative to the run folder, and its content's hash.
    json sweep = {{"schema", "e2llm.sweep"},
                  {"schema_version", 2},
                  {"name", s_.name},
                  {"config_file", relative_to_run(c_.path())},
                  {"config_sha256", config_sha256()},
                  {"config", c_.json()},
                  {"original_window", s_.original_window},
                  {"backends", backends},
                  {"tasks", tasks},
                  {"windows", s_.windows},
                  {"seed", s_.seed},
                  {"git_revision", kGitRevision}};
    if (!s_.seeds.empty()) sweep["seeds"] = s_.seeds;
    // Known once every backend is prepared. A folder reused with a changed config keeps the
    // old cell files (they are still a valid cache); this list tells the report which
    // cells belong to the latest plan.
    if (!cells_.empty()) {
      json keys = json::array();
      for (const auto& c : cells_) keys.push_back(c.key);
      sweep["cells"] = keys;
    }
    util::write_file_atomic(s_.out / "sweep.json", sweep.dump(2) + "\n");
  }

  // A path the sweep records (sweep.json, cells): relative to the run folder, so that a
  // committed run names no folder of the machine that made it.
  std::string relative_to_run(const fs::path& path) const {
    std::error_code ec;
    const fs::path from = fs::absolute(s_.out, ec).lexically_normal();
    const fs::path to = fs::absolute(path, ec).lexically_normal();
    const fs::path rel = to.lexically_relative(from);
    return rel.empty() ? path.string() : rel.string();
  }

  // sha256 of the config as resolved (TOML as JSON, --set applied; canonical: sorted keys).
  std::string config_sha256() const { return util::sha256_hex(c_.json().dump()); }

  json prepare_inputs(const LoadedBackend& b, const std::vector<std::int64_t>& windows) const {
    json inputs = {{"plugin", b.spec->plugin},
                   {"version", b.info.version},
                   {"config", b.spec->config_as_written},
                   {"base", base_identity(base_model_)},
                   {"tokenizer", tokenizer_->fingerprint()},
                   {"seed", s_.seed},
                   {"windows", windows}};
    if (!s_.device.empty()) inputs["device"] = s_.device;
    if (!s_.dtype.empty()) inputs["dtype"] = s_.dtype;
    if (b.training_seed) inputs["training_seed"] = *b.training_seed;
    return inputs;
  }

  fs::path record_path(const std::string& name) const { return s_.out / "backends" / (name + ".json"); }

  // Runs prepare() once per process under a lock (a second process waits, then hits the
  // backend's own cache) and saves the record for the report's training-cost table.
  json prepare(LoadedBackend& b, const std::vector<std::int64_t>& windows) {
    // The cache is shared by the labels of one plugin: trainings are content-addressed, so two
    // labels that train alike (e.g. one model served two ways) train once.
    auto lock = CellLock::acquire_blocking(s_.out / "cache" / (b.spec->plugin + ".lock"));
    PrepareContext ctx;
    ctx.base_model = base_model_;
    ctx.tokenizer = tokenizer_;
    ctx.cache_dir = s_.out / "cache" / b.spec->plugin;
    ctx.seed = s_.seed;
    ctx.training_seed = b.training_seed;
    ctx.windows = windows;
    ctx.device = s_.device;
    ctx.dtype = s_.dtype;
    SweepProgress progress(1, /*numbered=*/false);
    ctx.progress = &progress;
    progress.begin_cell("prepare " + b.shown() + " (" + b.spec->plugin + ")", 0);
    auto t0 = Clock::now();
    std::string started = now_iso();
    json record =
        located(c_, b.spec->section, "backend '" + b.shown() + "' prepare()", [&] { return b.plugin->prepare(ctx); });
    double wall = since(t0);
    if (!record.is_object() || !record.contains("checkpoint_hash") || !record["checkpoint_hash"].is_string())
      throw Error("backend plugin '" + b.spec->plugin + "' returned a prepare record without a \"checkpoint_hash\" string; fix the plugin");
    json saved = {{"label", b.spec->label},
                  {"plugin", b.spec->plugin},
                  {"version", b.info.version},
                  {"trains", b.info.trains},
                  {"description", b.info.description},
                  {"config", b.spec->config_as_written},
                  {"prepare_inputs", b.prepare_inputs},
                  {"prepare_inputs_hash", b.inputs_hash},
                  {"record", record},
                  {"prepare_wall_s", wall},
                  {"started_at", started},
                  {"finished_at", now_iso()}};
    if (b.training_seed) saved["training_seed"] = *b.training_seed;
    util::write_file_atomic(record_path(b.record_name()), saved.dump(2) + "\n");
    progress.end_cell(wall, b.info.trains ? "trained tokens: " + record.value("trained_tokens", json()).dump() : "");
    return saved;
  }

  void resolve_base() {
    if (!s_.pretrain) {
      base_model_ = {{"path", s_.base_path.string()},
                     {"format", s_.base_source},
                     {"original_window", s_.original_window},
                     {"content_sha256", base_content_sha256(s_.base_path)}};
      return;
    }
    // The trainer starts from nothing; its checkpoint is every backend's base.
    base_model_ = {{"path", ""}, {"format", "none"}, {"original_window", s_.original_window}};
    auto& t = *trainer_;
    t.prepare_inputs = prepare_inputs(t, {s_.original_window});
    t.inputs_hash = cell_key(t.prepare_inputs);
    if (options_.dry_run) {
      t.saved = read_saved_record(record_path(t.spec->label), t.prepare_inputs, t.inputs_hash);
    } else {
      t.saved = prepare(t, {s_.original_window});
    }
    if (!t.saved) {
      base_known_ = false;
      return;
    }
    const json& record = (*t.saved)["record"];
    if (!record.contains("checkpoint_path") || !record["checkpoint_path"].is_string())
      throw c_.error_at("base.pretrain.plugin", "backend plugin '" + t.spec->plugin +
                                                     "' produced no \"checkpoint_path\" in its prepare record; it cannot pretrain a base");
    base_model_ = {{"path", record["checkpoint_path"]},
                   {"format", "hf"},
                   {"original_window", s_.original_window},
                   {"pretrain_checkpoint_hash", record["checkpoint_hash"]}};
  }

  void prepare_backends() {
    for (auto& b : backends_) {
      b.prepare_inputs = prepare_inputs(b, s_.windows);
      b.inputs_hash = cell_key(b.prepare_inputs);
      if (!base_known_) continue;
      if (options_.dry_run)
        b.saved = read_saved_record(record_path(b.record_name()), b.prepare_inputs, b.inputs_hash);
      else
        b.saved = prepare(b, s_.windows);
    }
  }

  json key_material(const LoadedBackend& b, const LoadedTask& t, std::int64_t window) const {
    CellKeyInputs in;
    in.backend_label = b.spec->label;
    in.backend_plugin = b.spec->plugin;
    in.backend_version = b.info.version;
    in.backend_config = b.spec->config_as_written;
    in.checkpoint_hash = (*b.saved)["record"]["checkpoint_hash"].get<std::string>();
    in.base = base_model_;
    in.tokenizer_fingerprint = tokenizer_->fingerprint();
    in.task_label = t.spec->label;
    in.task_plugin = t.spec->plugin;
    in.task_version = t.info.version;
    in.task_config = t.spec->config_as_written;
    in.task_fingerprint = t.fingerprint;
    in.window = window;
    in.seed = s_.seed;
    in.training_seed = b.training_seed;
    return cell_key_material(in);
  }

  void plan() {
    for (std::size_t bi = 0; bi < backends_.size(); ++bi)
      for (std::size_t ti = 0; ti < tasks_.size(); ++ti)
        for (auto w : s_.windows) {
          PlannedCell cell{bi, ti, w, {}, false, tasks_[ti].plugin->planned_items(w)};
          if (backends_[bi].saved) {
            cell.key = cell_key(key_material(backends_[bi], tasks_[ti], w));
            cell.done = store_.find_finished(cell.key).has_value();
            if (cell.done && !options_.dry_run) tidy_finished(cell.key);
          }
          cells_.push_back(std::move(cell));
        }
  }

  // A process killed after a cell's file was written, before it dropped the cell's journal
  // and lock, leaves both behind: the journal is no longer needed and a lock nobody holds is
  // released (taking it over and dropping it unlinks the file).
  void tidy_finished(const std::string& key) {
    std::error_code ec;
    fs::remove(store_.journal_path(key), ec);
    if (fs::exists(store_.lock_path(key), ec)) CellLock::try_acquire(store_.lock_path(key));
  }

  std::string label(const PlannedCell& cell) const {
    return fmt::format("{} · {} · W={}", backends_[cell.backend].shown(), tasks_[cell.task].spec->label, cell.window);
  }

  // W / L: the window's ratio to the base's, not necessarily the scale a backend serves.
  double window_ratio(std::int64_t window) const { return double(window) / double(s_.original_window); }

  static std::string items_text(const std::optional<std::int64_t>& items) {
    return items ? std::to_string(*items) : "?";
  }

  int print_plan() {
    fmt::print("plan: {} backends x {} tasks x {} windows = {} cells (L = {}), cells in {}\n", backends_.size(),
               tasks_.size(), s_.windows.size(), cells_.size(), s_.original_window, (s_.out / "cells").string());
    if (!s_.seeds.empty()) {
      std::string seeds;
      for (auto seed : s_.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(seed);
      fmt::print(
          "seeds: {} (each backend that trains is trained and evaluated once per seed; tasks use [run] seed {})\n",
          seeds, s_.seed);
    }
    if (s_.pretrain)
      fmt::print("base: pretrained by backend '{}' ({})\n", s_.pretrain->plugin,
                 base_known_ ? "done: " + base_model_["path"].get<std::string>() : "to do first");
    fmt::print("{:<16} {:<14} {:>8} {:>7} {:>7}  {}\n", "BACKEND", "TASK", "WINDOW", "W/L", "ITEMS", "STATUS");
    for (const auto& cell : cells_) {
      std::string status = cell.key.empty() ? "todo (not prepared yet: key unknown)" : cell.done ? "done" : "todo";
      std::string where = cell.key.empty() ? "" : "  " + cell_stem(cell.key);
      fmt::print("{:<16} {:<14} {:>8} {:>7.2f} {:>7}  {}{}\n", backends_[cell.backend].shown(),
                 tasks_[cell.task].spec->label, cell.window, window_ratio(cell.window), items_text(cell.items), status,
                 where);
    }
    print_estimate();
    fmt::print("dry run: nothing was written\n");
    return 0;
  }

  // Items and tokens (items x window) of the cells still to compute, from each task's
  // planned_items().
  void print_estimate() const {
    std::size_t todo = 0, unknown_key = 0, with_items = 0;
    std::int64_t items = 0, tokens = 0;
    for (const auto& cell : cells_) {
      if (cell.done) continue;
      ++todo;
      if (cell.key.empty()) ++unknown_key;
      if (!cell.items) continue;
      ++with_items;
      items += *cell.items;
      tokens += *cell.items * cell.window;
    }
    fmt::print("estimate: {} of {} cells to compute", todo, cells_.size());
    if (with_items) fmt::print("; {} items, about {} tokens (items x window)", items, tokens);
    if (with_items < todo)
      fmt::print("; {} cell(s) with an item count their task cannot know before reading its data", todo - with_items);
    fmt::print("\n");
    std::size_t trains = 0;
    for (const auto& b : backends_)
      if (b.info.trains && !b.saved) ++trains;
    if (trains || (s_.pretrain && !base_known_))
      fmt::print("         plus training: {} backend(s) to prepare{}\n", trains,
                 s_.pretrain && !base_known_ ? " and a base model to pretrain" : "");
    if (unknown_key)
      fmt::print("note: {} cells have no key until their backend is prepared; they may already be done\n", unknown_key);
  }

  void compute() {
    std::size_t todo = 0;
    for (const auto& cell : cells_) todo += cell.done ? 0 : 1;
    SweepProgress progress(todo);
    std::vector<PlannedCell*> busy;
    for (auto& cell : cells_) {
      if (cell.done) continue;
      if (!try_cell(cell, progress)) busy.push_back(&cell);
    }
    // Cells another process holds: wait for them (or take them over if it dies).
    bool told = false;
    while (!busy.empty()) {
      if (!told) {
        progress.message(fmt::format("waiting for {} cell(s) other processes are computing", busy.size()));
        told = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      std::vector<PlannedCell*> still;
      for (auto* cell : busy) {
        if (store_.find_finished(cell->key)) {
          ++by_others_;
          continue;
        }
        if (!try_cell(*cell, progress)) still.push_back(cell);
      }
      busy.swap(still);
    }
    std::size_t skipped = cells_.size() - todo;
    fmt::print("sweep '{}': {} cells: {} computed, {} already done, {} computed by other processes\n", s_.name,
               cells_.size(), computed_, skipped, by_others_);
    fmt::print("cells: {}\nnext:  e2llm report {}\n", (s_.out / "cells").string(), s_.out.string());
  }

  // false when another live process holds the cell.
  bool try_cell(const PlannedCell& cell, SweepProgress& progress) {
    auto lock = CellLock::try_acquire(store_.lock_path(cell.key));
    if (!lock) return false;
    if (store_.find_finished(cell.key)) {  // finished by another process before we locked
      ++by_others_;
      return true;
    }
    compute_cell(cell, progress, lock->took_over());
    ++computed_;
    return true;
  }

  // What one evaluation of a cell produced, for its record.
  struct CellRun {
    json model;  // the LanguageModel's describe()
    CellResult result;
    json samples_info;
    double open_s = 0, eval_s = 0, wall_s = 0;
    std::string started_at;
    json memory;  // the per-cell peak RSS fields
  };

  void compute_cell(const PlannedCell& cell, SweepProgress& progress, bool took_over) {
    auto& b = backends_[cell.backend];
    auto& t = tasks_[cell.task];
    const std::string stem = cell_stem(cell.key);
    const std::string where = "cell " + label(cell) + " (cells/" + stem + ")";
    JournalSampleStore samples(store_.journal_path(cell.key));
    progress.begin_cell(label(cell), samples.loaded(), cell.items);
    if (took_over) progress.message("  took over the stale lock of a process that died");

    CellRun run;
    run.started_at = now_iso();
    PeakRssMeter memory;
    memory.start();
    auto t0 = Clock::now();
    std::unique_ptr<LanguageModel> model =
        located(c_, b.spec->section, where + ": backend open()", [&] { return b.plugin->open(cell.window); });
    if (!model) throw Error(where + ": backend plugin '" + b.spec->plugin + "' open() returned no model");
    run.model = model->describe();
    run.open_s = since(t0);
    auto t1 = Clock::now();
    EvalContext ctx;
    ctx.window = cell.window;
    ctx.seed = s_.seed;
    ctx.progress = &progress;
    ctx.samples = &samples;
    run.result = located(c_, t.spec->section, where + ": task evaluate() (finished samples are kept; rerun to resume)",
                         [&] { return t.plugin->evaluate(*model, ctx); });
    run.eval_s = since(t1);
    model.reset();
    run.wall_s = since(t0);
    run.memory = memory.fields();
    run.samples_info = {{"count", run.result.samples.size()},
                        {"resumed", samples.resumed()},
                        {"records_file", stem + ".records.jsonl"}};

    const json cell_json = cell_record(cell, run);
    store_.write_finished(cell.key, cell_json, run.result.samples);
    std::string note =
        fmt::format("{} tokens, {:.0f} tok/s", run.result.tokens_processed, cell_json["tokens_per_s"].get<double>());
    if (samples.resumed()) note += fmt::format(", {} samples resumed", samples.resumed());
    progress.end_cell(run.wall_s, note);
  }

  // The self-describing cell file (docs/results-schema.md): what was run, on what, and what it gave.
  json cell_record(const PlannedCell& cell, const CellRun& run) {
    auto& b = backends_[cell.backend];
    auto& t = tasks_[cell.task];
    const std::optional<double> served = model_served_scale(run.model);
    json cell_json = {
        {"schema", kCellSchema},
        {"schema_version", kCellSchemaVersion},
        {"key", cell.key},
        {"key_material", key_material(b, t, cell.window)},
        {"run", s_.name},
        {"backend",
         {{"label", b.spec->label},
          {"plugin", b.spec->plugin},
          {"version", b.info.version},
          {"trains", b.info.trains},
          {"config", b.spec->config_as_written},
          {"config_resolved", b.config},
          {"prepare", (*b.saved)["record"]}}},
        {"task",
         {{"label", t.spec->label},
          {"plugin", t.spec->plugin},
          {"version", t.info.version},
          {"config", t.spec->config_as_written},
          {"config_resolved", t.config},
          {"fingerprint", t.fingerprint},
          {"metrics_info", metrics_info(t.info)},
          {"views", views_to_json(t.info.views)}}},
        {"base", recorded_base()},
        {"tokenizer",
         {{"plugin", s_.tokenizer_plugin},
          {"model", relative_to_run(s_.tokenizer_model)},
          {"fingerprint", tokenizer_->fingerprint()}}},
        {"window", cell.window},
        {"original_window", s_.original_window},
        {"window_ratio", window_ratio(cell.window)},
        {"served_scale", served ? json(*served) : json(nullptr)},
        {"model", run.model},
        {"seed", s_.seed},
        {"git_revision", kGitRevision},
        {"config_sha256", config_sha256()},
        {"e2llm_version", kVersion},
        {"metrics", run.result.metrics},
        {"details", run.result.details},
        {"samples", run.samples_info},
        {"tokens_processed", run.result.tokens_processed},
        {"tokens_per_s", run.eval_s > 0 ? double(run.result.tokens_processed) / run.eval_s : 0.0},
        {"peak_rss_bytes", lifetime_peak_rss_bytes()},
        {"peak_rss_note",
         "the sweep process's peak resident memory over its whole life so far (ru_maxrss and VmHWM, kept across the "
         "per-cell resets), not this cell's"},
        {"timing",
         {{"open_s", run.open_s},
          {"evaluate_s", run.eval_s},
          {"wall_s", run.wall_s},
          {"started_at", run.started_at},
          {"finished_at", now_iso()}}},
        {"host", host_info(s_.threads)}};
    cell_json.update(run.memory);
    if (b.training_seed) cell_json["training_seed"] = *b.training_seed;
    if (!run.result.uncertainty.is_null() && !run.result.uncertainty.empty())
      cell_json["uncertainty"] = run.result.uncertainty;
    return cell_json;
  }

  // The base model as the cells record it: its path relative to the run folder.
  json recorded_base() const {
    json base = base_model_;
    if (base.contains("path") && base["path"].is_string() && !base["path"].get<std::string>().empty())
      base["path"] = relative_to_run(base["path"].get<std::string>());
    return base;
  }

  const SweepSpec& s_;
  const Config& c_;
  PluginRegistry& registry_;
  SweepOptions options_;
  CellStore store_;
  std::shared_ptr<Tokenizer> tokenizer_;
  std::vector<LoadedBackend> backends_;
  std::vector<LoadedTask> tasks_;
  std::optional<LoadedBackend> trainer_;
  json base_model_;
  bool base_known_ = true;
  std::vector<PlannedCell> cells_;
  std::size_t computed_ = 0, by_others_ = 0;
};

}  // namespace

int run_sweep(const SweepSpec& spec, PluginRegistry& registry, const SweepOptions& options) {
  return SweepRunner(spec, registry, options).run();
}

}  // namespace e2llm::harness
