// GEMM through CBLAS, and its reference.
#include "kernels/gemm.h"

#include <cblas.h>

namespace geotrain::kernels {

void gemm(float* C, const float* A, const float* B, int M, int N, int K, bool trans_a, bool trans_b,
          float alpha, float beta) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              M, N, K, alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

void gemm_reference(float* C, const float* A, const float* B, int M, int N, int K, bool trans_a,
                    bool trans_b, float alpha, float beta) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double acc = 0;
      for (int k = 0; k < K; ++k) {
        const float a = trans_a ? A[k * M + i] : A[i * K + k];
        const float b = trans_b ? B[j * K + k] : B[k * N + j];
        acc += static_cast<double>(a) * b;
      }
      const double prior = beta == 0.0f ? 0.0 : static_cast<double>(beta) * C[i * N + j];
      C[i * N + j] = static_cast<float>(alpha * acc + prior);
    }
}

}  // namespace geotrain::kernels

namespace geotrain::kernels {
void set_blas_threads(int threads) { openblas_set_num_threads(threads); }
}  // namespace geotrain::kernels
