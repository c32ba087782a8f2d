# Libraries linked from the static archives Debian ships beside the shared
# ones: sluice_static_libs (gRPC, absl and RE2) and sluice_yaml_cpp.
#
# Why: a process maps every shared library it links at start-up, and the
# dynamic loader reads each one's symbol and relocation tables and runs its
# constructors. For gRPC's some 60 libraries that costs every sluice about
# 2.5 MiB of resident memory, used or not (docs/memory.md). Linked from
# archives, only the objects sluice calls come in, nothing is looked up at
# start-up, and the start-up code among them is placed with sluice's own
# (src/app/CMakeLists.txt). OpenSSL, zlib and the C and C++ runtimes stay
# shared: other shared libraries use them too, one copy of each is loaded, and
# OpenSSL's security fixes apply without a rebuild. spdlog and fmt are used
# header-only (src/base/CMakeLists.txt) for the same reason.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SLUICE_GRPC_PC REQUIRED grpc++ re2)

set(SLUICE_STATIC_ARCHIVES)
foreach(lib IN LISTS SLUICE_GRPC_PC_STATIC_LIBRARIES)
  if(lib MATCHES "^(ssl|crypto|z|dl|pthread|rt|m|atomic)$")
    continue()
  endif()
  find_library(SLUICE_ARCHIVE_${lib} NAMES lib${lib}.a REQUIRED)
  list(APPEND SLUICE_STATIC_ARCHIVES ${SLUICE_ARCHIVE_${lib}})
endforeach()
list(REMOVE_DUPLICATES SLUICE_STATIC_ARCHIVES)

add_library(sluice_static_libs INTERFACE)
# The archives depend on each other in cycles: one group, searched again
# until nothing more is found.
target_link_libraries(sluice_static_libs INTERFACE
  "$<LINK_GROUP:RESCAN,${SLUICE_STATIC_ARCHIVES}>"
  OpenSSL::SSL OpenSSL::Crypto ZLIB::ZLIB Threads::Threads ${CMAKE_DL_LIBS} rt atomic)
target_include_directories(sluice_static_libs SYSTEM INTERFACE ${SLUICE_GRPC_PC_INCLUDE_DIRS})

find_library(SLUICE_YAML_CPP_ARCHIVE NAMES libyaml-cpp.a REQUIRED)
add_library(sluice_yaml_cpp INTERFACE)
target_link_libraries(sluice_yaml_cpp INTERFACE ${SLUICE_YAML_CPP_ARCHIVE})
target_include_directories(sluice_yaml_cpp SYSTEM INTERFACE
  $<TARGET_PROPERTY:yaml-cpp,INTERFACE_INCLUDE_DIRECTORIES>)
