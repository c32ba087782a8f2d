# Writes the text of IN into OUT as the C++ definition of
# sluice::pgmetrics::kPresetsYaml, a raw string literal. Run as
#   cmake -DIN=presets.yaml -DOUT=presets_yaml.cc -P embed.cmake
if(NOT DEFINED IN OR NOT DEFINED OUT)
  message(FATAL_ERROR "embed.cmake needs -DIN=<yaml file> -DOUT=<.cc file>")
endif()
file(READ "${IN}" text)
# The literal ends at the first )<delimiter>"; the YAML must not contain it.
set(delim "pgmetrics_yaml")
string(FIND "${text}" ")${delim}\"" found)
if(NOT found EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string terminator )${delim}\"")
endif()
file(WRITE "${OUT}"
  "// Generated from ${IN} by embed.cmake; do not edit.\n"
  "namespace sluice::pgmetrics {\n"
  "extern const char kPresetsYaml[];\n"
  "const char kPresetsYaml[] = R\"${delim}(${text})${delim}\";\n"
  "}  // namespace sluice::pgmetrics\n")
