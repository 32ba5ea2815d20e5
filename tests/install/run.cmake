# Installs the build tree into a temporary prefix, then builds and runs a separate project that
# finds it with find_package(reflex CONFIG). Fails on any step.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
step(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step(${WORK_DIR}/build/consumer)
set(expected "consumed 3 events")
if(EXISTS ${prefix}/include/reflex/rsql/sqlite.hpp)
  string(APPEND expected ".*streamed 3 events")
endif()
if(NOT step_output MATCHES "${expected}")
  message(FATAL_ERROR "the consumer project printed:\n${step_output}")
endif()
message(STATUS "${step_output}")
