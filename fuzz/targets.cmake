# The fuzz targets: fuzz/targets/<name>.cpp each, and the libraries holding their readers.
# Included by fuzz/CMakeLists.txt (the libFuzzer build in build/fuzz) and by
# tests/fuzz/CMakeLists.txt (the replay tests and the timed runs); docs/reliability.md.
set(E2LLM_FUZZ_TARGETS
  gguf gguf_tokenizer safetensors hf_dir toml_config longbench_rows longbench_predictions proofpile_documents
  cell_store)

if(E2LLM_FUZZ_TREE)
  # Only the harness files that hold the readers: the sanitizer build stays short.
  add_library(e2llm_fuzz_harness_readers STATIC
    ${CMAKE_SOURCE_DIR}/harness/src/config.cpp
    ${CMAKE_SOURCE_DIR}/harness/src/sweep_config.cpp
    ${CMAKE_SOURCE_DIR}/harness/src/report_settings.cpp
    ${CMAKE_SOURCE_DIR}/harness/src/tokenizer_choice.cpp
    ${CMAKE_SOURCE_DIR}/harness/src/cell_store.cpp)
  target_include_directories(e2llm_fuzz_harness_readers PUBLIC ${CMAKE_SOURCE_DIR}/harness/include)
  target_link_libraries(e2llm_fuzz_harness_readers PUBLIC e2llm_contract e2llm_util tomlplusplus::tomlplusplus)
  set(harness_readers e2llm_fuzz_harness_readers)
else()
  set(harness_readers e2llm_harness)
endif()
set(E2LLM_FUZZ_LIBS_gguf e2llm_formats)
set(E2LLM_FUZZ_LIBS_gguf_tokenizer e2llm_gguf_tokenizer_core)
set(E2LLM_FUZZ_LIBS_safetensors e2llm_formats)
set(E2LLM_FUZZ_LIBS_hf_dir e2llm_formats)
set(E2LLM_FUZZ_LIBS_toml_config ${harness_readers})
set(E2LLM_FUZZ_LIBS_longbench_rows e2llm_longbench_core)
set(E2LLM_FUZZ_LIBS_longbench_predictions e2llm_longbench_core)
set(E2LLM_FUZZ_LIBS_proofpile_documents e2llm_proofpile_core)
set(E2LLM_FUZZ_LIBS_cell_store ${harness_readers})

# Seeds besides fuzz/corpus/<name> and fuzz/regressions/<name>: the shipped configs.
set(E2LLM_FUZZ_EXTRA_SEEDS_toml_config ${CMAKE_SOURCE_DIR}/configs)

add_library(e2llm_fuzz_support STATIC ${CMAKE_CURRENT_LIST_DIR}/fuzz_support.cpp)
target_include_directories(e2llm_fuzz_support PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(e2llm_fuzz_support PUBLIC e2llm_contract)

# e2llm_fuzz_target_ready(<name> <out>): TRUE when every library of the target is built here.
function(e2llm_fuzz_target_ready name out)
  set(ready TRUE)
  foreach(lib ${E2LLM_FUZZ_LIBS_${name}})
    if(NOT TARGET ${lib})
      set(ready FALSE)
    endif()
  endforeach()
  set(${out} ${ready} PARENT_SCOPE)
endfunction()
