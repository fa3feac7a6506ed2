# LibTorch from the pinned PyPI `torch` wheel in the project's Python environment
# (scripts/setup.sh makes .venv). The wheel carries the headers, the libraries and
# TorchConfig.cmake; its CUDA build needs the CUDA toolkit at configure time (/usr/local/cuda)
# but runs without a GPU.
set(E2LLM_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python of the pinned environment whose torch provides LibTorch")
set(E2LLM_TORCH_VERSION "2.11.0" CACHE STRING "The LibTorch version the build requires (the pinned wheel)")
if(NOT EXISTS "${E2LLM_PYTHON}")
  message(FATAL_ERROR "${E2LLM_PYTHON} not found: run scripts/setup.sh first (it installs the pinned torch wheel "
                      "into a virtual environment and links it as .venv), or pass -DE2LLM_PYTHON=/path/to/python")
endif()
execute_process(
  COMMAND "${E2LLM_PYTHON}" -c "import torch; print(torch.utils.cmake_prefix_path); print(torch.__version__.split('+')[0])"
  OUTPUT_VARIABLE torch_query OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE torch_rc ERROR_VARIABLE torch_err)
if(NOT torch_rc EQUAL 0)
  message(FATAL_ERROR "${E2LLM_PYTHON} cannot import torch (${torch_err}): run scripts/setup.sh")
endif()
string(REPLACE "\n" ";" torch_query "${torch_query}")
list(GET torch_query 0 torch_prefix)
list(GET torch_query 1 torch_version)
if(NOT torch_version VERSION_EQUAL E2LLM_TORCH_VERSION)
  message(FATAL_ERROR "${E2LLM_PYTHON} has torch ${torch_version}, the build needs ${E2LLM_TORCH_VERSION}: "
                      "run scripts/setup.sh (it installs the pinned version)")
endif()
# Debian's libtorch-dev (1.13) puts its headers in /usr/include, a default include path:
# a header missing from the wheel would then come from 1.13 without a word.
if(EXISTS /usr/include/torch/csrc/api/include/torch/torch.h OR EXISTS /usr/include/ATen/ATen.h)
  message(FATAL_ERROR "Debian's LibTorch 1.13 headers are installed in /usr/include and would mix with "
                      "LibTorch ${E2LLM_TORCH_VERSION}: run scripts/setup.sh (it removes libtorch-dev)")
endif()
list(PREPEND CMAKE_PREFIX_PATH "${torch_prefix}")
# We compile no CUDA kernels of our own; name the GPU generation we run on (Hopper) so that
# Caffe2's CMake does not probe for a GPU.
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "9.0")
endif()
find_package(Torch ${E2LLM_TORCH_VERSION} REQUIRED)
get_filename_component(E2LLM_TORCH_LIB_DIR "${TORCH_LIBRARY}" DIRECTORY)
message(STATUS "LibTorch ${torch_version} from ${torch_prefix} (CUDA: ${CAFFE2_USE_CUDA})")

# The wheel's libtorch.so and libtorch_cpu.so export their own copies of libstdc++ pieces
# (std::filesystem among them, pytorch/pytorch#133437) compiled against a newer libstdc++
# than Debian's. Whichever library comes first in a process's lookup order serves every
# std::filesystem call: when it is libtorch, calls from our code jump into code that needs
# symbols Debian's libstdc++ lacks (a segfault in std::filesystem::remove_all, seen here).
# Naming libstdc++ first on every link line puts it ahead of LibTorch in DT_NEEDED, so the
# system's copy wins; tests/foundation checks the order in every binary that links LibTorch.
add_link_options("LINKER:--push-state,--no-as-needed" "-lstdc++" "LINKER:--pop-state")
