// A shared library that is not an e2llm plugin (no entry point).
extern "C" __attribute__((visibility("default"))) int some_other_library_function() { return 42; }
