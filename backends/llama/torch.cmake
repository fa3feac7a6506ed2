# ---- e2llm_llama: the LibTorch model library (included from CMakeLists.txt) -------------
# LlamaModel, attention (fused and blocked), KV cache, generation, devices,
# TorchLanguageModel and the RoPE-scaling backend base class. Few translation units with a
# precompiled <torch/torch.h>: one TU including it costs ~20 s here (docs/pitfalls.md, "Compile cost of torch.h").
# One precompiled <torch/torch.h> for every target that includes it (e2llm_llama, its tests
# and benchmarks take it with REUSE_FROM e2llm_torch_pch): it compiles to ~700 MB, and one
# copy per target once filled a CI disk. It is built by this target of its own, whose only
# definitions are LibTorch's, because GCC refuses a precompiled header whose command line
# defined a macro that the including file's does not (e2llm_llama's e2llm_llama_EXPORTS, say);
# -Winvalid-pch reports any target that falls back to parsing the header.
add_library(e2llm_torch_pch OBJECT src/torch_pch.cpp)
target_link_libraries(e2llm_torch_pch PRIVATE ${TORCH_LIBRARIES})
target_compile_options(e2llm_torch_pch PRIVATE ${TORCH_CXX_FLAGS})
target_precompile_headers(e2llm_torch_pch PRIVATE <torch/torch.h>)
add_library(e2llm_llama SHARED
  src/attention.cpp
  src/int8_linear.cpp
  src/batched_generation.cpp
  src/device.cpp
  src/model.cpp
  src/torch_language_model.cpp
  src/rope_scaling_backend.cpp
  src/self_extend.cpp)
target_include_directories(e2llm_llama PUBLIC include)
target_link_libraries(e2llm_llama
  PUBLIC e2llm_contract e2llm_formats ${TORCH_LIBRARIES}
  PRIVATE fmt::fmt)
target_compile_options(e2llm_llama PUBLIC ${TORCH_CXX_FLAGS})
target_precompile_headers(e2llm_llama REUSE_FROM e2llm_torch_pch)
set_target_properties(e2llm_llama PROPERTIES POSITION_INDEPENDENT_CODE ON)
# The wheel is a CUDA build: GPU queries (names, peak memory, set_device) compile in; they
# run only where a GPU is visible.
if(CAFFE2_USE_CUDA OR TORCH_CUDA_LIBRARIES)
  target_compile_definitions(e2llm_llama PUBLIC E2LLM_TORCH_CUDA=1)
  target_compile_definitions(e2llm_torch_pch PRIVATE E2LLM_TORCH_CUDA=1)
endif()
install(TARGETS e2llm_llama LIBRARY DESTINATION lib)
include(${CMAKE_CURRENT_SOURCE_DIR}/train.cmake OPTIONAL)
