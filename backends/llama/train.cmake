# ---- training: included at the end of torch.cmake -------------------------------------------
# Torch-free parts (position policies, token data) are a static library of their own so that
# their unit tests build in seconds; the LibTorch trainer and c10d data parallel join e2llm_llama.
add_library(e2llm_train_data STATIC
  ${CMAKE_CURRENT_LIST_DIR}/src/train/position_policy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/train/token_data.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/train/retrieval_mix.cpp)
target_include_directories(e2llm_train_data PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
# The retrieval mix writes the passkey probe's own text (the task kit's passkey_text: one place).
target_link_libraries(e2llm_train_data PUBLIC e2llm_contract e2llm_util PRIVATE e2llm_taskkit)

target_sources(e2llm_llama PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/train/trainer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/train/data_parallel.cpp
  ${CMAKE_CURRENT_LIST_DIR}/src/train/training_backend.cpp)
target_link_libraries(e2llm_llama PUBLIC e2llm_train_data PRIVATE e2llm_util)
