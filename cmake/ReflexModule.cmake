# Helpers shared by every module: one target per module, exported as reflex::<name>.

include(${CMAKE_CURRENT_LIST_DIR}/ReflexPkgConfig.cmake)

# Warnings for our own code (generated code gets its own target without them).
function(reflex_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  # GCC 12 reports -Wrestrict false positives inside libstdc++'s string code at -O3 (GCC bug
  # 105329); Release builds (scripts/bench) would fail with -Werror.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(REFLEX_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# reflex_add_module(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...]
#                   [FIND_DEPENDENCIES "pkg ARGS" ...] [EXCLUDE_HEADERS file ...]
#                   [EXPORT_HEADER reflex/<name>/export.hpp] [NO_WARNINGS])
# Creates target reflex_<name> (alias and export name reflex::<name>) whose public headers live in
# <module dir>/include. FIND_DEPENDENCIES are the find_dependency() calls the installed package needs
# for the module's PUBLIC dependencies; private dependencies of shared libraries need none.
# EXPORT_HEADER: the module's symbols are hidden unless marked REFLEX_<NAME>_EXPORT, a macro of the
# header generated at that path (so internals, detail:: included, are not ABI).
# EXCLUDE_HEADERS are public headers not to install (those of a part this build lacks, e.g. an SQL
# dialect). NO_WARNINGS is for targets made of generated code only (protoc output), which we do not
# control.
function(reflex_add_module name)
  cmake_parse_arguments(ARG "NO_WARNINGS" "EXPORT_HEADER"
                        "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS;FIND_DEPENDENCIES;EXCLUDE_HEADERS" ${ARGN})
  set(target reflex_${name})
  add_library(${target} ${ARG_SOURCES})
  add_library(reflex::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME reflex_${name}
                                             VERSION ${PROJECT_VERSION} SOVERSION 0)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  if(ARG_PUBLIC_DEPS)
    target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS})
  endif()
  if(ARG_PRIVATE_DEPS)
    target_link_libraries(${target} PRIVATE ${ARG_PRIVATE_DEPS})
  endif()
  if(NOT ARG_NO_WARNINGS)
    reflex_warnings(${target})
  endif()
  if(ARG_EXPORT_HEADER)
    include(GenerateExportHeader)
    string(TOUPPER "REFLEX_${name}" base)
    set(generated ${CMAKE_CURRENT_BINARY_DIR}/include/${ARG_EXPORT_HEADER})
    generate_export_header(${target} BASE_NAME ${base} EXPORT_FILE_NAME ${generated})
    set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden
                                               VISIBILITY_INLINES_HIDDEN ON)
    target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_BINARY_DIR}/include>)
    if(NOT BUILD_SHARED_LIBS)
      target_compile_definitions(${target} PUBLIC ${base}_STATIC_DEFINE)
    endif()
    get_filename_component(export_dir ${ARG_EXPORT_HEADER} DIRECTORY)
    install(FILES ${generated} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${export_dir})
  endif()
  install(TARGETS ${target} EXPORT reflexTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/include)
    set(excludes "")
    foreach(header IN LISTS ARG_EXCLUDE_HEADERS)
      list(APPEND excludes PATTERN ${header} EXCLUDE)
    endforeach()
    install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
            ${excludes})
  endif()
  reflex_pkgconfig_record(${target} PUBLIC_DEPS ${ARG_PUBLIC_DEPS} PRIVATE_DEPS ${ARG_PRIVATE_DEPS})
  set_property(GLOBAL APPEND PROPERTY REFLEX_MODULES ${name})
  foreach(dep IN LISTS ARG_FIND_DEPENDENCIES)
    set_property(GLOBAL APPEND PROPERTY REFLEX_FIND_DEPENDENCIES "${dep}")
  endforeach()
endfunction()

# Writes and installs reflexConfig.cmake, its version file, the exported targets and the
# pkg-config files.
function(reflex_install_package)
  include(CMakePackageConfigHelpers)
  get_property(REFLEX_MODULES GLOBAL PROPERTY REFLEX_MODULES)
  get_property(deps GLOBAL PROPERTY REFLEX_FIND_DEPENDENCIES)
  set(REFLEX_FIND_DEPENDENCY_CALLS "")
  if(deps)
    list(REMOVE_DUPLICATES deps)
    foreach(dep IN LISTS deps)
      string(APPEND REFLEX_FIND_DEPENDENCY_CALLS "find_dependency(${dep})\n")
    endforeach()
  endif()
  set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/reflex)
  configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/reflexConfig.cmake.in
    ${PROJECT_BINARY_DIR}/reflexConfig.cmake INSTALL_DESTINATION ${cmake_dir})
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/reflexConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
  install(EXPORT reflexTargets NAMESPACE reflex:: DESTINATION ${cmake_dir})
  install(FILES ${PROJECT_BINARY_DIR}/reflexConfig.cmake ${PROJECT_BINARY_DIR}/reflexConfigVersion.cmake
    DESTINATION ${cmake_dir})
  reflex_install_pkgconfig()
endfunction()
