# Compiles SOURCE (syntax only) with INCLUDES (a ;-list) and checks the outcome: with EXPECT
# set, the compiler must fail and say EXPECT; without it, it must succeed.
set(args -std=c++20 -fsyntax-only)
foreach(dir IN LISTS INCLUDES)
  list(APPEND args -I${dir})
endforeach()
execute_process(COMMAND ${COMPILER} ${args} ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE err
                OUTPUT_VARIABLE out)
if(DEFINED EXPECT AND NOT EXPECT STREQUAL "")
  if(rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} compiled, but must fail with: ${EXPECT}")
  endif()
  string(FIND "${err}" "${EXPECT}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${SOURCE} failed, but without \"${EXPECT}\":\n${err}")
  endif()
elseif(NOT rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} must compile:\n${err}")
endif()
