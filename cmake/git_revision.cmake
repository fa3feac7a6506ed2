# Run at every build (cmake -P): writes OUT from IN with the source tree's git revision,
# "-dirty" when tracked files differ from HEAD, "unknown" outside a git checkout.
# configure_file leaves OUT untouched when nothing changed, so nothing recompiles then.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE E2LLM_GIT_REV OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT E2LLM_GIT_REV)
  set(E2LLM_GIT_REV "unknown")
else()
  execute_process(COMMAND git status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC}
                  OUTPUT_VARIABLE changes OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(changes)
    string(APPEND E2LLM_GIT_REV "-dirty")
  endif()
endif()
configure_file(${IN} ${OUT} @ONLY)
