// Matrix multiply on the CPU: through CBLAS (OpenBLAS) for speed, and a plain triple loop that
// is the spec the BLAS path and any GPU twin are tested against.
#pragma once

namespace geotrain::kernels {

// C = alpha * op(A) * op(B) + beta * C, all row-major.
// op(A) is (M,K): A is (M,K), or (K,M) when trans_a.  op(B) is (K,N): B is (K,N), or (N,K)
// when trans_b.  C is (M,N).
void gemm(float* C, const float* A, const float* B, int M, int N, int K, bool trans_a, bool trans_b,
          float alpha, float beta);

// The same contract, plain loops with double accumulation (slow; for tests).
void gemm_reference(float* C, const float* A, const float* B, int M, int N, int K, bool trans_a,
                    bool trans_b, float alpha, float beta);

}  // namespace geotrain::kernels

namespace geotrain::kernels {
// Threads the BLAS may use (1 keeps results reproducible and leaves cores to parallel runs).
void set_blas_threads(int threads);
}  // namespace geotrain::kernels
