# Installs the build tree into a temporary prefix, then builds and runs a separate project that
# finds it with find_package(reflex CONFIG). Fails on any step.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

include(${CMAKE_CURRENT_LIST_DIR}/../support/standalone_project.cmake)

step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
configure_and_build(${CONSUMER_DIR} ${WORK_DIR}/build ${prefix})
step(${WORK_DIR}/build/consumer)
set(expected "consumed 3 events")
if(EXISTS ${prefix}/include/reflex/rsql/sqlite.hpp)
  string(APPEND expected ".*streamed 3 events")
endif()
if(NOT step_output MATCHES "${expected}")
  message(FATAL_ERROR "the consumer project printed:\n${step_output}")
endif()
message(STATUS "${step_output}")
