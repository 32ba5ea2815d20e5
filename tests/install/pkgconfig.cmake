# The installed pkg-config files work for a build without CMake: install the build tree into a
# temporary prefix, compile tests/install/consumer/main.cpp with the flags
# `pkg-config --cflags --libs reflex-core reflex-rsql` gives (and SQLite's, the program's own),
# run it, and check that reflex.pc resolves every module of the installation. Fails on any step.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
include(${CMAKE_CURRENT_LIST_DIR}/../support/standalone_project.cmake)

step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
step(${PKG_CONFIG} --exists --print-errors reflex)
set(modules reflex-core)
set(defines "")
if(EXISTS ${prefix}/include/reflex/rsql/sqlite.hpp)
  list(APPEND modules reflex-rsql sqlite3)
  set(defines -DHAVE_REFLEX_SQLITE)
endif()
step(${PKG_CONFIG} --cflags --libs ${modules})
string(STRIP "${step_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
string(REPLACE ";" " " sanitizer_flags "${SANITIZER_FLAGS}")
separate_arguments(sanitizer_flags UNIX_COMMAND "${sanitizer_flags}")
file(MAKE_DIRECTORY ${WORK_DIR}/build)
step(${CXX_COMPILER} ${sanitizer_flags} ${defines} ${CONSUMER_DIR}/main.cpp ${flags}
     -Wl,-rpath,${prefix}/${LIBDIR} -o ${WORK_DIR}/build/consumer)
step(${WORK_DIR}/build/consumer)
set(expected "consumed 3 events")
if(defines)
  string(APPEND expected ".*streamed 3 events")
endif()
if(NOT step_output MATCHES "${expected}")
  message(FATAL_ERROR "the consumer built with pkg-config printed:\n${step_output}")
endif()
message(STATUS "${step_output}")
