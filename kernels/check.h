// Internal invariant checks that stay on in release builds (they are not input validation:
// bad user input is reported at load time with the file and JSON path).  In kernels/, the lowest
// layer, so every layer can use it.
#pragma once
#include <cstdio>
#include <cstdlib>

#define GEOTRAIN_CHECK(cond, hint)                                                            \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: internal check failed: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   hint);                                                                     \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
