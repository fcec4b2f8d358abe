// Sparsification kernels on the CPU (the spec for GPU twins): top-k by magnitude, mask and
// index compaction/scatter, magnitude pruning masks, and top-k with error feedback (DGC, EF-SGD).
// Outputs first, then inputs, then sizes.  Indices are int32: REQUIRES n <= INT32_MAX.
#pragma once
#include <cstddef>
#include <cstdint>

namespace geotrain::kernels {

// Magnitude order used by every selection here: |a| ranks above |b| when the IEEE bit pattern of
// |a| (sign cleared) is larger as an unsigned integer; equal magnitudes rank by LOWER index first.
// For finite values this is the order of |x| (+0 and -0 tie); NaN ranks above inf.  It is a
// strict total order on (magnitude, index), so every selection is deterministic.

// idx(k), val(k) <- the k entries of x(n) of largest magnitude, in ASCENDING INDEX order (so idx
// is a sorted index list for the functions below); val[j] = x[idx[j]].
// REQUIRES: k <= n.  Allocates n int32 of scratch.
void topk_by_magnitude(std::int32_t* idx, float* val, const float* x, std::size_t n, std::size_t k);

// ---- masks (uint8: any nonzero byte keeps the entry) ---------------------------------------

// Number of kept entries of mask(n).
std::size_t mask_count(const std::uint8_t* mask, std::size_t n);
// idx(nnz) <- the kept positions of mask(n), ascending.  Returns nnz.  idx holds mask_count().
std::size_t mask_to_indices(std::int32_t* idx, const std::uint8_t* mask, std::size_t n);
// dense(nnz) <- x[i] for every kept i of mask(n), in index order.  Returns nnz.
std::size_t compact_masked(float* dense, const float* x, const std::uint8_t* mask, std::size_t n);
// out(n) <- dense(nnz) at the kept positions of mask(n) (the j-th kept i gets dense[j]), 0 elsewhere.
void scatter_masked(float* out, const float* dense, const std::uint8_t* mask, std::size_t n);
// out(n) += dense(nnz) at the kept positions of mask(n); the other entries are untouched.
void scatter_add_masked(float* out, const float* dense, const std::uint8_t* mask, std::size_t n);
// x(n) *= mask(n): entries not kept become 0 (PacTrain's g = g * K and theta = theta * K).
void apply_mask(float* x, const std::uint8_t* mask, std::size_t n);

// ---- index lists (REQUIRES: every idx[j] in [0, n); distinct for the scatters) -------------------

// dense(nnz) <- x[idx[j]].
void gather_indices(float* dense, const float* x, const std::int32_t* idx, std::size_t nnz);
// out(n) <- dense[j] at idx[j], 0 elsewhere.
void scatter_indices(float* out, const float* dense, const std::int32_t* idx, std::size_t nnz, std::size_t n);
// out[idx[j]] += dense[j] for j in [0, nnz); the other entries are untouched.
void scatter_add_indices(float* out, const float* dense, const std::int32_t* idx, std::size_t nnz);
// One message of k (value, index) pairs in fp32 slots: packed(2k) <- val(k), then idx(k) with
// each index's bits copied into a float (std::bit_cast, no conversion).
void pack_pairs(float* packed, const float* val, const std::int32_t* idx, std::size_t k);
// out[index j] += value j for j in [0, k) of a message written by pack_pairs, in pair order.
void scatter_add_pairs(float* out, const float* packed, std::size_t k);

// ---- magnitude pruning ----------------------------------------------------------------------

// Entries a pruning to `sparsity` keeps out of n: llround((1 - sparsity) * n) in double
// (halves away from zero).  REQUIRES: 0 <= sparsity < 1.
std::size_t pruning_kept_count(std::size_t n, double sparsity);
// mask(n) <- 1 for the pruning_kept_count(n, sparsity) entries of x(n) of largest magnitude
// (ties: lower index kept), 0 elsewhere.  Returns the kept count.  Allocates like top-k.
std::size_t magnitude_prune_mask(std::uint8_t* mask, const float* x, std::size_t n, double sparsity);

// ---- error feedback -------------------------------------------------------------------------

// One DGC / EF-SGD step: residual(n) += g(n); then idx(k), val(k) <- top-k of the residual (as
// topk_by_magnitude: ascending index order) and residual[idx[j]] = 0.  The sent values are MOVED
// out of the residual, so over any number of steps, per entry:
//   sum of inputs g == sum of sent values + final residual
// exactly up to the fp32 rounding of the additions `residual += g` (exactly when those are exact).
// REQUIRES: k <= n.
void error_feedback_topk(std::int32_t* idx, float* val, float* residual, const float* g, std::size_t n,
                         std::size_t k);

// ---- Deep Gradient Compression (Lin et al. 2018) -------------------------------------------

// Local gradient clipping: when the L2 norm of x(n) exceeds max_norm, x *= max_norm / norm.
// Returns the norm before clipping (summed in double, in index order).  REQUIRES: max_norm > 0.
double clip_by_norm(float* x, double max_norm, std::size_t n);
// Momentum correction: the velocity v(n) accumulates the momentum u(n) instead of the gradient:
//   momentum:  u = m u + g;      v += u
//   nesterov:  u = m (u + g);    v += u + g
// (the sparsification then selects from v, and the update step applies no momentum again).
void momentum_correction(float* u, float* v, const float* g, float m, bool nesterov, std::size_t n);
// Top-k of the velocity v(n) (as topk_by_magnitude: idx ascending), moved out of v (v[idx] = 0),
// and, when u is not null, momentum factor masking: u[idx] = 0 (the momentum of a sent entry
// stops, so stale momentum does not keep pushing it).  REQUIRES: k <= n.
void select_and_mask(std::int32_t* idx, float* val, float* v, float* u, std::size_t n, std::size_t k);

}  // namespace geotrain::kernels
