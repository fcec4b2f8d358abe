// Optimizer update kernels on the CPU: SGD, heavy-ball momentum, Nesterov momentum, AdamW with
// decoupled weight decay. Each updates parameters w(n) in place from a gradient g(n).
#pragma once
#include <cstddef>

namespace geotrain::kernels {

// w -= lr * (g + wd * w)
void sgd_step(float* w, const float* g, float lr, float weight_decay, std::size_t n);
// v = mu * v + (g + wd * w);  w -= lr * v
void momentum_step(float* w, float* v, const float* g, float lr, float mu, float weight_decay, std::size_t n);
// v = mu * v + (g + wd * w);  w -= lr * ((g + wd * w) + mu * v)      (PyTorch's Nesterov form)
void nesterov_step(float* w, float* v, const float* g, float lr, float mu, float weight_decay, std::size_t n);
// AdamW (Loshchilov & Hutter): m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
// w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)  +  lr * wd * w.
// `step` is t, counted from 1.
void adamw_step(float* w, float* m, float* v, const float* g, float lr, float beta1, float beta2,
                float eps, float weight_decay, long step, std::size_t n);

}  // namespace geotrain::kernels
