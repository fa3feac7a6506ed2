#include "e2llm/harness/registry.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>

#include "e2llm/config_reader.hpp"
#include "e2llm/error.hpp"
#include "e2llm/plugin.hpp"

namespace e2llm::harness {
namespace fs = std::filesystem;

struct PluginRegistry::Loaded {
  boost::dll::shared_library library;
  const PluginDescriptor* descriptor = nullptr;
};

fs::path executable_dir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : self.parent_path();
}

std::vector<fs::path> PluginRegistry::default_folders(const std::vector<fs::path>& extra) {
  std::vector<fs::path> folders;
  if (const char* env = std::getenv("E2LLM_PLUGIN_PATH")) {
    std::string list = env;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      if (end > start) folders.emplace_back(list.substr(start, end - start));
      start = end + 1;
    }
  }
  folders.insert(folders.end(), extra.begin(), extra.end());
  folders.push_back(executable_dir() / ".." / "lib" / "e2llm" / "plugins");
  return folders;
}

static std::vector<fs::path> libraries_in(const fs::path& entry) {
  std::error_code ec;
  if (fs::is_regular_file(entry, ec)) return {entry};
  if (!fs::is_directory(entry, ec)) return {};
  std::vector<fs::path> found;
  for (const auto& item : fs::directory_iterator(entry, ec))
    if (item.path().extension() == ".so" && item.is_regular_file(ec)) found.push_back(item.path());
  std::sort(found.begin(), found.end());
  return found;
}

PluginRegistry::PluginRegistry(const std::vector<fs::path>& folders) : folders_(folders) {
  // SentencePiece must not see LibTorch's protobuf (docs/pitfalls.md §SentencePiece and LibTorch): every plugin is
  // loaded RTLD_LOCAL|RTLD_DEEPBIND. Sanitizer runtimes refuse DEEPBIND; they can opt out.
  auto mode = boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now;
  if (!std::getenv("E2LLM_NO_DEEPBIND")) mode = mode | boost::dll::load_mode::rtld_deepbind;
  for (const auto& folder : folders) {
    for (const auto& path : libraries_in(folder)) {
      auto loaded = std::make_shared<Loaded>();
      try {
        loaded->library.load(path.string(), mode);
      } catch (const std::exception& e) {
        throw Error(path.string() + " is not a loadable e2llm plugin (" + e.what() +
                    "); remove it from the plugin path");
      }
      if (!loaded->library.has(E2LLM_PLUGIN_ENTRY_POINT_NAME))
        throw Error(path.string() + " is not an e2llm plugin (it exports no " E2LLM_PLUGIN_ENTRY_POINT_NAME
                    "); remove it from the plugin path");
      auto entry = loaded->library.get<const PluginDescriptor*()>(E2LLM_PLUGIN_ENTRY_POINT_NAME);
      const PluginDescriptor* d = entry();
      if (d == nullptr) throw Error(path.string() + ": plugin entry point returned no descriptor");
      if (d->abi_version != kAbiVersion)
        throw Error(path.string() + " was built for plugin ABI " + std::to_string(d->abi_version) +
                    " but this e2llm uses ABI " + std::to_string(kAbiVersion) +
                    "; rebuild the plugin against this e2llm's headers");
      std::string kind = d->kind ? d->kind : "", name = d->name ? d->name : "";
      if (kind != "tokenizer" && kind != "backend" && kind != "task")
        throw Error(path.string() + ": unknown plugin kind '" + kind + "' (expected tokenizer, backend or task)");
      if (name.empty() || d->create == nullptr) throw Error(path.string() + ": plugin descriptor has no name or factory");
      bool shadowed = std::any_of(records_.begin(), records_.end(),
                                  [&](const PluginRecord& r) { return r.kind == kind && r.name == name; });
      if (shadowed) continue;  // an earlier folder wins (E2LLM_PLUGIN_PATH before the built-in folder)
      loaded->descriptor = d;
      records_.push_back({kind, name, d->version ? d->version : "", fs::weakly_canonical(path)});
      loaded_.push_back(std::move(loaded));
    }
  }
}

std::vector<std::string> PluginRegistry::names(const std::string& kind) const {
  std::vector<std::string> out;
  for (const auto& r : records_)
    if (r.kind == kind) out.push_back(r.name);
  std::sort(out.begin(), out.end());
  return out;
}

std::shared_ptr<Plugin> PluginRegistry::create(const std::string& kind, const std::string& name) const {
  for (std::size_t i = 0; i < records_.size(); ++i) {
    if (records_[i].kind != kind || records_[i].name != name) continue;
    auto library = loaded_[i];
    Plugin* object = library->descriptor->create();
    if (object == nullptr) throw Error(records_[i].path.string() + ": plugin factory returned nothing");
    // The deleter holds the library: it is unloaded only after its last object is gone.
    return std::shared_ptr<Plugin>(object, [library](Plugin* p) { delete p; });
  }
  auto known = names(kind);
  std::string hint = closest_match(name, known), list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  throw Error("no " + kind + " plugin named '" + name + "'" + (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
              " (available: " + (list.empty() ? "none" : list) + ")");
}

// The descriptor's kind guarantees the dynamic type, so a static cast is exact (dynamic_cast
// across RTLD_LOCAL libraries could fail on duplicated type_info).
template <class T>
static std::shared_ptr<T> as(std::shared_ptr<Plugin> p) {
  return std::shared_ptr<T>(p, static_cast<T*>(p.get()));
}

std::shared_ptr<Tokenizer> PluginRegistry::make_tokenizer(const std::string& name) const {
  return as<Tokenizer>(create("tokenizer", name));
}
std::shared_ptr<Backend> PluginRegistry::make_backend(const std::string& name) const {
  return as<Backend>(create("backend", name));
}
std::shared_ptr<Task> PluginRegistry::make_task(const std::string& name) const {
  return as<Task>(create("task", name));
}

}  // namespace e2llm::harness
