# pkg-config files beside the CMake package, for builds without CMake: reflex-<module>.pc per
# module (Requires from its public dependencies; private ones only for static linking) and
# reflex.pc requiring every module of the installation. Relocatable: paths are relative to the
# .pc file's own directory.

# What a dependency of a module is to pkg-config: a module it Requires (public) or
# Requires.private, or flags for Libs.private; nothing for header-only libraries.
function(_reflex_pkgconfig_dep dep out_requires out_libs)
  set(requires "")
  set(libs "")
  if(dep MATCHES "^reflex::(.+)$")
    set(requires "reflex-${CMAKE_MATCH_1}")
  elseif(dep STREQUAL "prometheus-cpp::core")
    set(requires prometheus-cpp-core)
  elseif(dep STREQUAL "protobuf::libprotobuf")
    set(requires protobuf)
  elseif(dep MATCHES "^gRPC::grpc\\+\\+$")
    set(requires grpc++)
  elseif(dep STREQUAL "gRPC::grpc++_reflection")
    set(libs -lgrpc++_reflection)
  elseif(dep STREQUAL "PkgConfig::NATS")
    set(requires libnats)
  elseif(dep STREQUAL "PkgConfig::PQXX")
    set(requires libpqxx)
  elseif(dep STREQUAL "PkgConfig::LIBJWT")
    set(requires libjwt)
  elseif(dep STREQUAL "OpenSSL::Crypto")
    set(requires libcrypto)
  elseif(dep STREQUAL "SQLite::SQLite3")
    set(requires sqlite3)
  elseif(dep MATCHES "/lib([^/]+)\\.(so|a)$")
    set(libs -l${CMAKE_MATCH_1})  # a library found by path (mysqlcppconn)
  endif()
  set(${out_requires} "${requires}" PARENT_SCOPE)
  set(${out_libs} "${libs}" PARENT_SCOPE)
endfunction()

# Called by reflex_add_module: records what the module's .pc file says.
function(reflex_pkgconfig_record target)
  cmake_parse_arguments(ARG "" "" "PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  set(requires "")
  set(requires_private "")
  set(libs_private "")
  foreach(dep IN LISTS ARG_PUBLIC_DEPS)
    _reflex_pkgconfig_dep("${dep}" r l)
    list(APPEND requires ${r})
    list(APPEND libs_private ${l})
  endforeach()
  foreach(dep IN LISTS ARG_PRIVATE_DEPS)
    _reflex_pkgconfig_dep("${dep}" r l)
    list(APPEND requires_private ${r})
    list(APPEND libs_private ${l})
  endforeach()
  if(requires_private AND requires)
    list(REMOVE_ITEM requires_private ${requires})
  endif()
  set_target_properties(${target} PROPERTIES REFLEX_PC_REQUIRES "${requires}"
                                             REFLEX_PC_REQUIRES_PRIVATE "${requires_private}"
                                             REFLEX_PC_LIBS_PRIVATE "${libs_private}")
endfunction()

function(_reflex_pkgconfig_write file name description requires requires_private libs
         libs_private cflags)
  file(RELATIVE_PATH to_prefix "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
       "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "/$" "" to_prefix "${to_prefix}")
  list(JOIN requires ", " requires)
  list(JOIN requires_private ", " requires_private)
  list(JOIN libs_private " " libs_private)
  set(text "prefix=\${pcfiledir}/${to_prefix}
libdir=\${prefix}/${CMAKE_INSTALL_LIBDIR}
includedir=\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}

Name: ${name}
Description: ${description}
Version: ${PROJECT_VERSION}
")
  if(requires)
    string(APPEND text "Requires: ${requires}\n")
  endif()
  if(requires_private)
    string(APPEND text "Requires.private: ${requires_private}\n")
  endif()
  string(APPEND text "Cflags: -I\${includedir}${cflags} -std=c++20\n")
  if(libs)
    string(APPEND text "Libs: -L\${libdir} ${libs}\n")
  endif()
  if(libs_private)
    string(APPEND text "Libs.private: ${libs_private}\n")
  endif()
  file(WRITE ${file} "${text}")
endfunction()

# Writes and installs the .pc files of every module built (called by reflex_install_package).
function(reflex_install_pkgconfig)
  get_property(modules GLOBAL PROPERTY REFLEX_MODULES)
  set(dir ${PROJECT_BINARY_DIR}/pkgconfig)
  set(all "")
  foreach(module IN LISTS modules)
    set(target reflex_${module})
    get_target_property(requires ${target} REFLEX_PC_REQUIRES)
    get_target_property(requires_private ${target} REFLEX_PC_REQUIRES_PRIVATE)
    get_target_property(libs_private ${target} REFLEX_PC_LIBS_PRIVATE)
    set(cflags "")
    if(module STREQUAL "core")
      list(APPEND libs_private -pthread)
    elseif(module STREQUAL "proto")
      # Generated code includes "reflex.pb.h": the directory of reflex.proto's output too.
      set(cflags " -I\${includedir}/reflex/proto")
    endif()
    _reflex_pkgconfig_write(${dir}/reflex-${module}.pc reflex-${module}
      "reflex::${module}, of reflex (event notification with a transactional SQL outbox)"
      "${requires}" "${requires_private}" "-lreflex_${module}" "${libs_private}" "${cflags}")
    list(APPEND all reflex-${module})
  endforeach()
  _reflex_pkgconfig_write(${dir}/reflex.pc reflex
    "reflex: event notification with a transactional SQL outbox (every module of this installation)"
    "${all}" "" "" "" "")
  install(DIRECTORY ${dir}/ DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig FILES_MATCHING
          PATTERN "*.pc")
endfunction()
