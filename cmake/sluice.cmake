include(GoogleTest)

# sluice_module(<name> SRCS ... DEPS ...): one static library per module, named
# sluice_<name>, with src/ as its include root so includes read "log/writer.h".
function(sluice_module name)
  cmake_parse_arguments(M "" "" "SRCS;DEPS" ${ARGN})
  add_library(sluice_${name} STATIC ${M_SRCS})
  target_include_directories(sluice_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(sluice_${name} PUBLIC ${M_DEPS})
endfunction()

# sluice_test(<name> SRCS ... DEPS ... [LABELS ...]): a GoogleTest binary
# registered with ctest, one ctest entry per test case.
function(sluice_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SRCS})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()
