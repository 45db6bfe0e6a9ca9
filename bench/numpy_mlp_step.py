# The MLP 784-256-10 (ReLU) training step of `cabs bench --model mlp:256` in numpy, to compare
# the native CPU engine with: forward, softmax cross-entropy, backward, the mean gradient, the
# per-example squared gradient norms (the rank-one identity ‖δ_i x_iᵀ‖² = ‖δ_i‖²·‖x_i‖², as the
# engine computes them), ‖ḡ‖², and the SGD update, all in float32, the sums read back each step.
# Random inputs in [0, 1): the cost does not depend on the values.
#
#   pip install --user numpy==2.4.6        (the version measured; its wheel bundles OpenBLAS)
#   python3 bench/numpy_mlp_step.py [M] [STEPS] [BLOCKS]     (defaults 256 50 5)
#   OPENBLAS_NUM_THREADS=1 python3 bench/numpy_mlp_step.py   (one core; default: all)
#
# Prints the median of BLOCKS blocks of STEPS timed steps, in ms per step, like `cabs bench`.
import sys
import time

import numpy as np

m = int(sys.argv[1]) if len(sys.argv) > 1 else 256
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 50
blocks = int(sys.argv[3]) if len(sys.argv) > 3 else 5
d_in, hidden, classes, lr = 784, 256, 10, np.float32(0.01)

rng = np.random.default_rng(1)
data = rng.random((8000, d_in), dtype=np.float32)
labels = rng.integers(0, classes, 8000)
w1 = (rng.standard_normal((hidden, d_in)) * 0.05).astype(np.float32)
b1 = np.zeros(hidden, np.float32)
w2 = (rng.standard_normal((classes, hidden)) * 0.05).astype(np.float32)
b2 = np.zeros(classes, np.float32)


def step(offset):
    global w1, b1, w2, b2
    idx = np.arange(offset, offset + m) % len(data)
    x, y = data[idx], labels[idx]
    h = np.maximum(x @ w1.T + b1, 0)
    z = h @ w2.T + b2
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(m), y]).sum()
    correct = (p.argmax(axis=1) == y).sum()
    d2 = p
    d2[np.arange(m), y] -= 1
    d1 = (d2 @ w2) * (h > 0)
    inv_m = np.float32(1 / m)
    g_w2, g_b2 = (d2.T @ h) * inv_m, d2.sum(axis=0) * inv_m
    g_w1, g_b1 = (d1.T @ x) * inv_m, d1.sum(axis=0) * inv_m
    sq2, sq1 = (d2 * d2).sum(axis=1), (d1 * d1).sum(axis=1)
    norms = (sq2 * ((h * h).sum(axis=1) + 1) + sq1 * ((x * x).sum(axis=1) + 1)).sum()
    mean_grad_sq = sum(float((g * g).sum()) for g in (g_w1, g_b1, g_w2, g_b2))
    w1 -= lr * g_w1
    b1 -= lr * g_b1
    w2 -= lr * g_w2
    b2 -= lr * g_b2
    return float(loss), int(correct), float(norms), mean_grad_sq


for k in range(5):  # warm-up
    step(k * m)
times = []
offset = 0
for _ in range(blocks):
    start = time.perf_counter()
    for _ in range(steps):
        step(offset)
        offset += m
    times.append((time.perf_counter() - start) / steps)
times.sort()
print(f"numpy {np.__version__}, MLP 784-{hidden}-{classes}, batch {m}, {blocks} blocks of {steps} steps (median block)")
print(f"numpy step: {times[len(times) // 2] * 1e3:.3f} ms")
