# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: configures and builds the checking build,
# one folder shared by both (default build-check/, or $GEOTRAIN_CHECK_BUILD) so CI compiles
# everything once.  ASan + UBSan always; with clang also libFuzzer coverage and tests/fuzz.
# Sets check_build (the folder) and check_fuzz (1 when the fuzz targets are built).

check_build=${GEOTRAIN_CHECK_BUILD:-build-check}
check_fuzz=0
check_compiler=()
line_tables=-g1  # g++: line tables for the reports
if command -v clang++ >/dev/null 2>&1; then
  check_fuzz=1
  check_compiler=(-DCMAKE_CXX_COMPILER=clang++ -DGEOTRAIN_FUZZ=ON)
  line_tables=-gline-tables-only
fi
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# Release code (the suite's real training is slow unoptimized) with line tables for the reports.
cmake -S . -B "$check_build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=$line_tables \
  -DGEOTRAIN_SANITIZE=ON -DGEOTRAIN_MPI=OFF "${check_compiler[@]}" "${launcher[@]}" --log-level=NOTICE

# Leaks are not checked: SimGrid's engine lives until the process ends by design (one per process,
# sim/run.cc) and SimGrid keeps global state it never frees.  Everything else aborts at once.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
