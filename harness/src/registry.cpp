#include "e2llm/harness/registry.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
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
  return ec ? fs::path() : self.parent_path();  // unknown: never guess the working directory
}

std::vector<fs::path> PluginRegistry::default_folders(const std::vector<fs::path>& extra) {
  std::vector<fs::path> folders;
  if (const char* env = std::getenv("E2LLM_PLUGIN_PATH")) {
    std::string list = env;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t end = list.find(':', start);
      if (end == std::string::npos) end = list.size();
      // An empty entry ("a::b", a trailing ':') means the working directory in PATH and
      // LD_LIBRARY_PATH; here it means nothing. A relative entry would follow whatever
      // folder e2llm is started in, so it is refused.
      const fs::path entry = list.substr(start, end - start);
      if (!entry.empty() && entry.is_relative())
        throw Error("E2LLM_PLUGIN_PATH entry '" + entry.string() +
                    "' is relative: it would load plugins from wherever e2llm is started; list absolute folders");
      if (!entry.empty()) folders.push_back(entry);
      start = end + 1;
    }
  }
  folders.insert(folders.end(), extra.begin(), extra.end());
  const fs::path exe = executable_dir();
  if (!exe.empty()) folders.push_back(exe / ".." / "lib" / "e2llm" / "plugins");
  return folders;
}

namespace {

// ---- who may write a plugin --------------------------------------------------------------
// A plugin runs with the user's rights, so nobody else may be able to change it: not the
// library, not the folder it is listed in (a new *.so there is loaded too), not a folder
// above them (it could swap the folder). Writable by others means world-writable, or
// group-writable by a group other than the owner's own user-private group (Debian's
// umask 002 makes files g+w for that group, which holds nobody else). A folder above with
// the sticky bit (/tmp) is fine: others cannot rename or replace what is not theirs there.

bool is_user_private_group(uid_t uid, gid_t gid) {
  const struct passwd* pw = ::getpwuid(uid);
  if (pw == nullptr || pw->pw_gid != gid) return false;
  const std::string user = pw->pw_name;
  const struct group* gr = ::getgrgid(gid);
  return gr != nullptr && user == gr->gr_name && (gr->gr_mem == nullptr || gr->gr_mem[0] == nullptr);
}

// Why `path` (following symlinks: a link is judged by its target) is writable by others,
// or "" when it is not. `is_ancestor`: a folder above the plugin, where a sticky bit is enough.
std::string writable_by_others(const fs::path& path, bool is_ancestor) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";  // missing: nothing is loaded from it
  if (is_ancestor && (st.st_mode & S_ISVTX)) return "";
  if (st.st_mode & S_IWOTH) return "is writable by everyone; chmod o-w " + path.string();
  if ((st.st_mode & S_IWGRP) && !is_user_private_group(st.st_uid, st.st_gid))
    return "is writable by its group (gid " + std::to_string(st.st_gid) + "); chmod g-w " + path.string();
  return "";
}

// `listed` (absolute) and every folder above it: first with symlinks resolved (a message
// names the real file), then as written (a folder holding a link could swap the link).
void check_not_writable_by_others(const fs::path& listed, const fs::path& library) {
  std::error_code ec;
  const fs::path real = fs::canonical(listed, ec);
  for (const fs::path& p : {ec ? listed : real, listed}) {
    bool is_ancestor = false;
    for (fs::path q = p; !q.empty(); q = q.parent_path(), is_ancestor = true) {
      std::string why = writable_by_others(q, is_ancestor);
      if (!why.empty())
        throw Error("refusing plugin " + library.string() + ": " + (q == p ? "" : "the folder ") + q.string() + " " +
                    why);
      if (q == q.root_path()) break;
    }
  }
}

std::vector<fs::path> libraries_in(const fs::path& entry) {
  std::error_code ec;
  if (fs::is_regular_file(entry, ec)) return {entry};
  if (!fs::is_directory(entry, ec)) return {};
  std::vector<fs::path> found;
  for (const auto& item : fs::directory_iterator(entry, ec))
    if (item.path().extension() == ".so" && item.is_regular_file(ec)) found.push_back(item.path());
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

PluginRegistry::PluginRegistry(const std::vector<fs::path>& folders) : folders_(folders) {
  // SentencePiece must not see LibTorch's protobuf (docs/pitfalls.md §SentencePiece and LibTorch): every plugin is
  // loaded RTLD_LOCAL|RTLD_DEEPBIND. Sanitizer runtimes refuse DEEPBIND; they can opt out.
  auto mode = boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now;
  if (!std::getenv("E2LLM_NO_DEEPBIND")) mode = mode | boost::dll::load_mode::rtld_deepbind;
  for (const auto& listed : folders) {
    // Absolute before anything is listed or loaded: Boost.DLL turns a bare file name into
    // "./name" and dlopen() resolves any relative path against the working directory.
    std::error_code ec;
    const fs::path folder = fs::absolute(listed, ec);
    if (ec) throw Error("cannot resolve plugin path " + listed.string() + ": " + ec.message());
    for (const auto& path : libraries_in(folder)) {
      check_not_writable_by_others(folder, path);
      if (path != folder) check_not_writable_by_others(path, path);
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
      if (name.empty() || d->create == nullptr)
        throw Error(path.string() + ": plugin descriptor has no name or factory");
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
