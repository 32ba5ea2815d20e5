# Shared by the package tests (cmake -P scripts): run a step and fail with its output, and
# configure a separate project against an installed prefix the way a user's would be, with the
# sanitizer flags of the build under test (SANITIZER_FLAGS, ';'-separated; a program linked
# against sanitized libraries must be sanitized itself).

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# configure_and_build(<source dir> <build dir> <prefix>)
function(configure_and_build src build prefix)
  set(flags "")
  if(SANITIZER_FLAGS)
    string(REPLACE ";" " " joined "${SANITIZER_FLAGS}")
    set(flags "-DCMAKE_CXX_FLAGS=${joined}" "-DCMAKE_EXE_LINKER_FLAGS=${joined}")
  endif()
  step(${CMAKE_COMMAND} -S ${src} -B ${build} -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
       -DCMAKE_PREFIX_PATH=${prefix} ${flags})
  step(${CMAKE_COMMAND} --build ${build})
endfunction()
