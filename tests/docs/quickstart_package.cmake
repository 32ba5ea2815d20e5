# Builds the README's quickstart as a reader would: examples/welcome_mailer/main.cpp and
# standalone/CMakeLists.txt (the two blocks the README shows) copied into an empty folder,
# configured against a fresh install of the build tree, built, and run twice (the second run
# resumes after the stored cursor). Fails on any step.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
set(src ${WORK_DIR}/src)
file(MAKE_DIRECTORY ${src})
file(COPY ${EXAMPLE_DIR}/main.cpp ${EXAMPLE_DIR}/standalone/CMakeLists.txt DESTINATION ${src})

include(${CMAKE_CURRENT_LIST_DIR}/../support/standalone_project.cmake)

step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
configure_and_build(${src} ${WORK_DIR}/build ${prefix})
foreach(run 1 2)
  step(${WORK_DIR}/build/welcome_mailer ${WORK_DIR}/app.db)
  if(NOT step_output MATCHES "^welcome mail to user ${run}\ncursor of welcome-mailer: ${run}\n$")
    message(FATAL_ERROR "run ${run} of the quickstart printed:\n${step_output}")
  endif()
endforeach()
message(STATUS "the quickstart built against ${prefix} and ran twice")
