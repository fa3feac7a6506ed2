#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "e2llm/error.hpp"
#include "e2llm/harness/app.hpp"
#include "e2llm/harness/registry.hpp"

using e2llm::harness::PluginRegistry;

namespace {
const std::string kProbes = E2LLM_TEST_PLUGINS;

std::string error_of(const std::vector<std::filesystem::path>& folders) {
  try {
    PluginRegistry r(folders);
  } catch (const e2llm::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Registry, ListsTheBuiltPlugins) {
  PluginRegistry r({E2LLM_PLUGIN_DIR});
  auto names = r.names("tokenizer");
  ASSERT_NE(std::find(names.begin(), names.end(), "sentencepiece"), names.end());
  for (const auto& p : r.plugins()) {
    EXPECT_FALSE(p.version.empty()) << p.name;
    EXPECT_TRUE(std::filesystem::exists(p.path)) << p.path;
  }
}

TEST(Registry, LoadsCreatesAndOwnsAPlugin) {
  PluginRegistry r({kProbes + "/good_task"});
  ASSERT_EQ(r.plugins().size(), 1u);
  EXPECT_EQ(r.plugins()[0].kind, "task");
  EXPECT_EQ(r.plugins()[0].name, "registry-probe");
  EXPECT_EQ(r.plugins()[0].version, "9.9.9");
  auto task = r.make_task("registry-probe");
  EXPECT_EQ(task->info().name, "registry-probe");
  EXPECT_EQ(task->fingerprint(), "probe");
}

TEST(Registry, UnknownNameSuggestsTheClosest) {
  PluginRegistry r({kProbes + "/good_task"});
  try {
    r.make_task("registry-prob");
    FAIL() << "expected an error";
  } catch (const e2llm::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "no task plugin named 'registry-prob'; did you mean 'registry-probe'? (available: registry-probe)");
  }
  EXPECT_THROW(r.make_backend("registry-probe"), e2llm::Error);  // right name, wrong kind
}

TEST(Registry, RefusesAWrongAbiNamingTheFileAndBothVersions) {
  std::string e = error_of({kProbes + "/wrong_abi"});
  EXPECT_NE(e.find("libtest_plugin_wrong_abi.so"), std::string::npos) << e;
  EXPECT_NE(e.find("ABI " + std::to_string(e2llm::kAbiVersion + 41)), std::string::npos) << e;
  EXPECT_NE(e.find("uses ABI " + std::to_string(e2llm::kAbiVersion)), std::string::npos) << e;
}

TEST(Registry, RefusesAPluginBuiltForAbi1) {
  ASSERT_EQ(e2llm::kAbiVersion, 6u) << "update this test with the new ABI's history";
  std::string e = error_of({kProbes + "/abi1_task"});
  EXPECT_EQ(e, kProbes +
                   "/abi1_task/libtest_plugin_abi1_task.so was built for plugin ABI 1 but this e2llm uses ABI 6; "
                   "rebuild the plugin against this e2llm's headers");
}

TEST(Registry, RefusesALibraryWithoutTheEntryPoint) {
  std::string e = error_of({kProbes + "/not_a_plugin"});
  EXPECT_NE(e.find("libtest_plugin_not_a_plugin.so is not an e2llm plugin"), std::string::npos) << e;
}

TEST(Registry, RefusesAFileThatIsNotALibrary) {
  std::string e = error_of({kProbes + "/garbage"});
  EXPECT_NE(e.find("libe2llm_task_garbage.so is not a loadable e2llm plugin"), std::string::npos) << e;
}

TEST(Registry, EarlierFolderShadowsALaterPluginOfTheSameName) {
  PluginRegistry r({kProbes + "/good_task", kProbes + "/good_task/libtest_plugin_good_task.so"});
  EXPECT_EQ(r.plugins().size(), 1u);
}

TEST(Registry, MissingFoldersAreNotErrors) {
  PluginRegistry r({"/nonexistent/e2llm/plugins"});
  EXPECT_TRUE(r.plugins().empty());
}

// The README's sentence "Plugins are searched in A, B, C, then D" names the order the code
// uses (plugin_search_path; an earlier folder's plugin shadows a later one's).
TEST(Registry, TheReadmesPluginSearchOrderIsTheCodes) {
  std::ifstream in(std::string(E2LLM_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  std::string readme = text.str();
  for (char& c : readme)
    if (c == '\n') c = ' ';
  const std::size_t start = readme.find("Plugins are searched in");
  ASSERT_NE(start, std::string::npos) << "README.md no longer states the plugin search order";
  const std::string sentence = readme.substr(start, readme.find('.', readme.find("plugins/", start)) - start);
  // Each source, as the README writes it and as the code is given it.
  const std::map<std::string, std::string> sources = {{"`--plugin-path`", "/from/command/line"},
                                                      {"`$E2LLM_PLUGIN_PATH`", "/from/env/a"},
                                                      {"`[plugins] path`", "/from/config"},
                                                      {"`build/lib/e2llm/plugins/`", "built-in"}};
  std::map<std::size_t, std::string> by_position;
  for (const auto& [written, path] : sources) {
    std::size_t at = sentence.find(written);
    ASSERT_NE(at, std::string::npos) << written << " missing from: " << sentence;
    by_position[at] = path;
  }
  std::vector<std::string> readme_order;
  for (const auto& [at, path] : by_position) readme_order.push_back(path);

  setenv("E2LLM_PLUGIN_PATH", "/from/env/a:/from/env/b", 1);
  auto folders = e2llm::harness::plugin_search_path({"/from/command/line"}, {"/from/config"});
  unsetenv("E2LLM_PLUGIN_PATH");
  const auto built_in = e2llm::harness::executable_dir() / ".." / "lib" / "e2llm" / "plugins";
  std::vector<std::string> code_order;
  for (const auto& f : folders) {
    std::string name = f == built_in ? "built-in" : f.string();
    if (name == "/from/env/b") continue;  // the second entry of the same variable
    code_order.push_back(name);
  }
  EXPECT_EQ(code_order, readme_order) << sentence;
}

// ---- plugins load only from the listed folders, and only when nobody else can write them ----

namespace {

namespace fs = std::filesystem;

const fs::path kProbeLibrary = kProbes + "/good_task/libtest_plugin_good_task.so";

// A folder of its own under the temp dir (mode 0755), removed at the end.
class PluginDir {
 public:
  explicit PluginDir(const std::string& name)
      : path_(fs::temp_directory_path() / ("e2llm-registry-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
    fs::permissions(path_, fs::perms(0755));
  }
  ~PluginDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  // A copy of the probe plugin in `folder` (made 0755 like the files a build writes).
  fs::path add_probe(const fs::path& folder) const {
    fs::create_directories(folder);
    fs::permissions(folder, fs::perms(0755));
    const fs::path lib = folder / "libprobe.so";
    fs::copy_file(kProbeLibrary, lib, fs::copy_options::overwrite_existing);
    fs::permissions(lib, fs::perms(0755));
    return lib;
  }

 private:
  fs::path path_;
};

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Changes the working directory for one scope.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() { fs::current_path(old_); }

 private:
  fs::path old_;
};

bool loads_probe(const std::vector<fs::path>& folders) {
  PluginRegistry r(folders);
  return !r.plugins().empty() && r.plugins()[0].name == "registry-probe";
}

}  // namespace

TEST(RegistryPaths, EmptyPluginPathEntriesDoNotMeanTheWorkingDirectory) {
  PluginDir cwd("cwd");
  cwd.add_probe(cwd.path());  // a plugin in the working directory must not be picked up
  ScopedCwd in(cwd.path());
  for (std::string list : {"", ":", "::", "/nonexistent/a::/nonexistent/b:", ":/nonexistent/a"}) {
    ScopedEnv env("E2LLM_PLUGIN_PATH", list);
    const auto folders = PluginRegistry::default_folders();
    ASSERT_FALSE(folders.empty());
    for (const auto& f : folders) {
      EXPECT_TRUE(f.is_absolute()) << "'" << list << "' gave " << f;
      EXPECT_NE(fs::weakly_canonical(f), fs::weakly_canonical(cwd.path())) << "'" << list << "'";
    }
    // Every folder but the built-in one (last): none of them reaches the working directory.
    const std::vector<fs::path> listed(folders.begin(), folders.end() - 1);
    EXPECT_TRUE(PluginRegistry(listed).plugins().empty()) << "'" << list << "'";
  }
}

TEST(RegistryPaths, ARelativePluginPathEntryIsRefused) {
  ScopedEnv env("E2LLM_PLUGIN_PATH", "/nonexistent/a:plugins");
  try {
    PluginRegistry::default_folders();
    FAIL() << "a relative entry was accepted";
  } catch (const e2llm::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("E2LLM_PLUGIN_PATH entry 'plugins' is relative"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(RegistryPaths, RelativeFoldersAndBareFileNamesResolveOnceAgainstTheWorkingDirectory) {
  PluginDir dir("relative");
  const fs::path lib = dir.add_probe(dir.path() / "plugins");
  ScopedCwd in(dir.path());
  PluginRegistry by_folder({"plugins"});
  ASSERT_EQ(by_folder.plugins().size(), 1u);
  EXPECT_EQ(by_folder.plugins()[0].path, fs::canonical(lib));
  ScopedCwd deeper(dir.path() / "plugins");
  PluginRegistry by_name({"libprobe.so"});  // a bare name: this file, not a search of system folders
  ASSERT_EQ(by_name.plugins().size(), 1u);
  EXPECT_EQ(by_name.plugins()[0].path, fs::canonical(lib));
}

TEST(RegistryTrust, AWorldWritableFolderOrLibraryIsRefusedNamingIt) {
  PluginDir dir("world");
  const fs::path folder = dir.path() / "plugins";
  const fs::path lib = dir.add_probe(folder);
  EXPECT_TRUE(loads_probe({folder}));

  fs::permissions(folder, fs::perms(0777));
  std::string e = error_of({folder});
  EXPECT_NE(e.find("refusing plugin " + lib.string()), std::string::npos) << e;
  EXPECT_NE(e.find("chmod o-w " + folder.string()), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  fs::permissions(folder, fs::perms(01777));  // sticky does not help the folder itself: others add files
  EXPECT_NE(error_of({folder}).find("chmod o-w " + folder.string()), std::string::npos);
  fs::permissions(folder, fs::perms(0755));

  fs::permissions(lib, fs::perms(0757));
  e = error_of({folder});
  EXPECT_NE(e.find("chmod o-w " + lib.string()), std::string::npos) << e;
  e = error_of({lib});  // listed as a file
  EXPECT_NE(e.find("chmod o-w " + lib.string()), std::string::npos) << e;
}

TEST(RegistryTrust, AFolderAboveThatOthersCanWriteIsRefusedUnlessSticky) {
  PluginDir dir("above");
  const fs::path above = dir.path() / "shared";
  const fs::path folder = above / "plugins";
  dir.add_probe(folder);
  fs::permissions(above, fs::perms(0777));  // anyone could rename plugins/ and put their own
  std::string e = error_of({folder});
  EXPECT_NE(e.find("the folder " + above.string() + " is writable by everyone; chmod o-w " + above.string()),
            std::string::npos)
      << e;
  fs::permissions(above, fs::perms(01777));  // like /tmp: only owners rename their entries
  EXPECT_TRUE(loads_probe({folder}));
}

TEST(RegistryTrust, ASymlinkIsJudgedByItsTarget) {
  PluginDir dir("symlink");
  const fs::path open = dir.path() / "open";  // world-writable, not sticky
  const fs::path target = dir.add_probe(open);
  fs::permissions(open, fs::perms(0777));
  const fs::path safe = dir.path() / "safe";
  fs::create_directories(safe);
  fs::permissions(safe, fs::perms(0755));
  fs::create_symlink(target, safe / "libprobe.so");  // the link itself is 0777, as links are
  std::string e = error_of({safe});
  EXPECT_NE(e.find("chmod o-w " + open.string()), std::string::npos) << e;

  fs::create_directory_symlink(open, dir.path() / "linked");  // a listed folder that is a link
  e = error_of({dir.path() / "linked"});
  EXPECT_NE(e.find("chmod o-w " + open.string()), std::string::npos) << e;

  fs::permissions(open, fs::perms(0755));  // the same links to a safe target load
  EXPECT_TRUE(loads_probe({safe}));
  EXPECT_TRUE(loads_probe({dir.path() / "linked"}));
}

TEST(RegistryTrust, GroupWritableIsRefusedUnlessTheGroupIsTheOwnersOwn) {
  PluginDir dir("group");
  const fs::path folder = dir.path() / "plugins";
  const fs::path lib = dir.add_probe(folder);
  // The owner's own user-private group (Debian's umask 002 case) holds nobody else: fine.
  const struct passwd* me = ::getpwuid(::geteuid());
  const struct group* mine = me ? ::getgrgid(me->pw_gid) : nullptr;
  if (mine && std::string(mine->gr_name) == me->pw_name && (!mine->gr_mem || !mine->gr_mem[0])) {
    fs::permissions(lib, fs::perms(0775));
    EXPECT_TRUE(loads_probe({folder}));
  }
  // Another group: only root can hand a file to any group; elsewhere use a supplementary one.
  gid_t other = 0;
  bool have_other = false;
  if (::geteuid() == 0) {
    other = 1, have_other = other != (me ? me->pw_gid : 0);
  } else {
    std::vector<gid_t> groups(static_cast<size_t>(std::max(::getgroups(0, nullptr), 0)));
    if (!groups.empty() && ::getgroups(static_cast<int>(groups.size()), groups.data()) > 0)
      for (gid_t g : groups)
        if (me && g != me->pw_gid) other = g, have_other = true;
  }
  if (!have_other || ::chown(lib.c_str(), static_cast<uid_t>(-1), other) != 0)
    GTEST_SKIP() << "no second group to give the library to";
  fs::permissions(lib, fs::perms(0775));
  const std::string e = error_of({folder});
  EXPECT_NE(e.find("is writable by its group (gid " + std::to_string(other) + "); chmod g-w " + lib.string()),
            std::string::npos)
      << e;
  fs::permissions(lib, fs::perms(0755));
  EXPECT_TRUE(loads_probe({folder}));
}
