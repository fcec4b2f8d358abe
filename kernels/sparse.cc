// CPU sparsification kernels: selection by an integer magnitude key (a strict total order with
// index tie-break), then plain loops in index order.
#include "kernels/sparse.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

#include "kernels/check.h"

namespace geotrain::kernels {
namespace {

constexpr std::uint32_t kAbsMask = 0x7fffffffu;  // clears the fp32 sign bit
constexpr std::size_t kMaxIndex = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());

// The magnitude key: the bit pattern of |x|, monotone in |x| for non-NaN values.
std::uint32_t magnitude_key(float x) { return std::bit_cast<std::uint32_t>(x) & kAbsMask; }

// The k positions of x(n) of largest magnitude (ties: lower index), ascending.
std::vector<std::int32_t> select_topk(const float* x, std::size_t n, std::size_t k) {
  GEOTRAIN_CHECK(k <= n, "k <= n");
  GEOTRAIN_CHECK(n <= kMaxIndex, "n <= INT32_MAX (indices are int32)");
  std::vector<std::int32_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::int32_t>(i);
  const auto ranks_before = [x](std::int32_t a, std::int32_t b) {
    const std::uint32_t ka = magnitude_key(x[a]), kb = magnitude_key(x[b]);
    return ka != kb ? ka > kb : a < b;
  };
  if (k < n) std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), ranks_before);
  order.resize(k);
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace

void topk_by_magnitude(std::int32_t* idx, float* val, const float* x, std::size_t n, std::size_t k) {
  const std::vector<std::int32_t> top = select_topk(x, n, k);
  for (std::size_t j = 0; j < k; ++j) {
    idx[j] = top[j];
    val[j] = x[top[j]];
  }
}

std::size_t mask_count(const std::uint8_t* mask, std::size_t n) {
  std::size_t nnz = 0;
  for (std::size_t i = 0; i < n; ++i) nnz += mask[i] != 0;
  return nnz;
}

std::size_t mask_to_indices(std::int32_t* idx, const std::uint8_t* mask, std::size_t n) {
  GEOTRAIN_CHECK(n <= kMaxIndex, "n <= INT32_MAX (indices are int32)");
  std::size_t nnz = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (mask[i]) idx[nnz++] = static_cast<std::int32_t>(i);
  return nnz;
}

std::size_t compact_masked(float* dense, const float* x, const std::uint8_t* mask, std::size_t n) {
  std::size_t nnz = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (mask[i]) dense[nnz++] = x[i];
  return nnz;
}

void scatter_masked(float* out, const float* dense, const std::uint8_t* mask, std::size_t n) {
  std::size_t j = 0;
  for (std::size_t i = 0; i < n; ++i) out[i] = mask[i] ? dense[j++] : 0.0f;
}

void scatter_add_masked(float* out, const float* dense, const std::uint8_t* mask, std::size_t n) {
  std::size_t j = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (mask[i]) out[i] += dense[j++];
}

void apply_mask(float* x, const std::uint8_t* mask, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!mask[i]) x[i] = 0.0f;
}

void gather_indices(float* dense, const float* x, const std::int32_t* idx, std::size_t nnz) {
  for (std::size_t j = 0; j < nnz; ++j) dense[j] = x[idx[j]];
}

void scatter_indices(float* out, const float* dense, const std::int32_t* idx, std::size_t nnz, std::size_t n) {
  std::fill(out, out + n, 0.0f);
  for (std::size_t j = 0; j < nnz; ++j) {
    GEOTRAIN_CHECK(idx[j] >= 0 && static_cast<std::size_t>(idx[j]) < n, "index in [0, n)");
    out[idx[j]] = dense[j];
  }
}

void scatter_add_indices(float* out, const float* dense, const std::int32_t* idx, std::size_t nnz) {
  for (std::size_t j = 0; j < nnz; ++j) out[idx[j]] += dense[j];
}

void pack_pairs(float* packed, const float* val, const std::int32_t* idx, std::size_t k) {
  for (std::size_t j = 0; j < k; ++j) {
    packed[j] = val[j];
    packed[k + j] = std::bit_cast<float>(idx[j]);
  }
}

void scatter_add_pairs(float* out, const float* packed, std::size_t k) {
  for (std::size_t j = 0; j < k; ++j) out[std::bit_cast<std::int32_t>(packed[k + j])] += packed[j];
}

std::size_t pruning_kept_count(std::size_t n, double sparsity) {
  GEOTRAIN_CHECK(sparsity >= 0.0 && sparsity < 1.0, "0 <= sparsity < 1");
  return static_cast<std::size_t>(std::llround((1.0 - sparsity) * static_cast<double>(n)));
}

std::size_t magnitude_prune_mask(std::uint8_t* mask, const float* x, std::size_t n, double sparsity) {
  const std::size_t kept = pruning_kept_count(n, sparsity);
  std::fill(mask, mask + n, std::uint8_t{0});
  for (const std::int32_t i : select_topk(x, n, kept)) mask[i] = 1;
  return kept;
}

void error_feedback_topk(std::int32_t* idx, float* val, float* residual, const float* g, std::size_t n,
                         std::size_t k) {
  for (std::size_t i = 0; i < n; ++i) residual[i] += g[i];
  topk_by_magnitude(idx, val, residual, n, k);
  for (std::size_t j = 0; j < k; ++j) residual[idx[j]] = 0.0f;
}

double clip_by_norm(float* x, double max_norm, std::size_t n) {
  GEOTRAIN_CHECK(max_norm > 0, "a clipping threshold above 0");
  double sum_sq = 0;
  for (std::size_t i = 0; i < n; ++i) sum_sq += static_cast<double>(x[i]) * x[i];
  const double norm = std::sqrt(sum_sq);
  if (norm > max_norm) {
    const float factor = static_cast<float>(max_norm / norm);
    for (std::size_t i = 0; i < n; ++i) x[i] *= factor;
  }
  return norm;
}

void momentum_correction(float* u, float* v, const float* g, float m, bool nesterov, std::size_t n) {
  if (nesterov) {
    for (std::size_t i = 0; i < n; ++i) {
      u[i] = m * (u[i] + g[i]);
      v[i] += u[i] + g[i];
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      u[i] = m * u[i] + g[i];
      v[i] += u[i];
    }
  }
}

void select_and_mask(std::int32_t* idx, float* val, float* v, float* u, std::size_t n, std::size_t k) {
  topk_by_magnitude(idx, val, v, n, k);
  for (std::size_t j = 0; j < k; ++j) {
    v[idx[j]] = 0.0f;
    if (u) u[idx[j]] = 0.0f;
  }
}

}  // namespace geotrain::kernels
