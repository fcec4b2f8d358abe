// CPU reductions: plain loops in a fixed order, so results are bit-reproducible.
#include "kernels/reduce.h"

#include <cstring>

namespace geotrain::kernels {

void add_into(float* dst, const float* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] += src[i];
}

void copy(float* dst, const float* src, std::size_t n) {
  if (n > 0) std::memcpy(dst, src, n * sizeof(float));
}

void scale(float* x, float factor, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) x[i] *= factor;
}

void add_scaled_into(float* dst, const float* src, float factor, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const float product = factor * src[i];
    dst[i] += product;
  }
}

void add_then_scale(float* dst, const float* src, float factor, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = (dst[i] + src[i]) * factor;
}

}  // namespace geotrain::kernels
