// Neural-network layer kernels on the CPU (the spec for GPU twins): bias, activations, losses,
// accuracy. Outputs first, then inputs, then sizes; shapes in comments, row-major.
#pragma once
#include <cstddef>
#include <cstdint>

namespace geotrain::kernels {

// out(B,N) += bias(N) on every row.
void bias_add(float* out, const float* bias, int B, int N);
// dbias(N) = sum over rows of dout(B,N)  (overwrites).
void bias_grad(float* dbias, const float* dout, int B, int N);

// out = max(in, 0).  In place allowed (out == in).
void relu_forward(float* out, const float* in, std::size_t n);
// din = dout where out > 0, else 0.  `out` is the forward output.
void relu_backward(float* din, const float* dout, const float* out, std::size_t n);
// out = tanh(in).  In place allowed.
void tanh_forward(float* out, const float* in, std::size_t n);
// din = dout * (1 - out^2).
void tanh_backward(float* din, const float* dout, const float* out, std::size_t n);

// Mean softmax cross-entropy of logits(B,C) against labels(B) in [0, C).  When dlogits is not
// null it receives d(mean loss)/d(logits) = (softmax - onehot) / B.  Numerically stable
// (max-subtracted).  Returns the mean loss.
double softmax_cross_entropy(float* dlogits, const float* logits, const std::int32_t* labels, int B, int C);
// Number of rows of logits(B,C) whose arg-max (first on ties) equals the label.
int count_correct(const float* logits, const std::int32_t* labels, int B, int C);

// Mean squared error 0.5 * mean((pred - target)^2) over n values; when dpred is not null it
// receives (pred - target) / n.  Returns the loss.
double half_mse(float* dpred, const float* pred, const float* target, std::size_t n);

}  // namespace geotrain::kernels
