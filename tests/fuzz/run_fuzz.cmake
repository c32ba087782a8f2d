# Runs one fuzz target for ctest:
#   cmake -DFUZZER=<binary> -DCORPUS=<dir> -DARTIFACTS=<dir/> -DARGS=<flags;...>
#         -DINPUTS=<seeds;regressions> -P run_fuzz.cmake
# The working corpus starts empty on every run: what one run finds is not
# replayed by the next, so a run costs the same however often it is repeated
# (a corpus kept between runs made every start slower). The seeds and the
# regressions are read-only inputs that libFuzzer replays in full before it
# fuzzes, whatever the time budget.
file(REMOVE_RECURSE ${CORPUS})
file(MAKE_DIRECTORY ${CORPUS} ${ARTIFACTS})
execute_process(COMMAND ${FUZZER} ${ARGS} -artifact_prefix=${ARTIFACTS} ${CORPUS} ${INPUTS}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input that failed is in ${ARTIFACTS}")
endif()
