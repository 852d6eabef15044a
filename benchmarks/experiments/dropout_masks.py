"""Issue 26: what a dropout mask costs. tf.nn.dropout (one random number per element) against masks
built from 16 or 8 random bits per element, on one attention-probability tensor (bf16,
8 x 12 x 256 x 256: batch 8, 12 heads, maxlen 256). Prints ms per call; compare ratios only.

    python benchmarks/experiments/dropout_masks.py
"""
import os; os.environ["TF_USE_LEGACY_KERAS"]="1"
import time, tensorflow as tf
g = tf.random.Generator.from_seed(1)
rate = 0.1
thr16 = int(round(rate * 65536)); thr8 = int(round(rate*256))
def bench(name, f, x, n=10):
    f(x)
    t=time.perf_counter()
    for _ in range(n): r=f(x)
    r.numpy()
    print(f"{name:36s} {1000*(time.perf_counter()-t)/n:8.2f} ms", flush=True)
@tf.function
def keras_like(x): return tf.nn.dropout(x, rate)
@tf.function
def bits16(x):
    n = tf.size(x)
    bits = g.uniform_full_int([(n + 1) // 2], dtype=tf.int32)
    u = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:n]
    keep = tf.reshape(tf.cast(u, tf.int32) >= thr16, tf.shape(x))
    return tf.where(keep, x * tf.cast(1 / (1 - rate), x.dtype), tf.zeros_like(x))
@tf.function
def bits8(x):
    n = tf.size(x)
    bits = g.uniform_full_int([(n + 3) // 4], dtype=tf.int32)
    u = tf.reshape(tf.bitcast(bits, tf.uint8), [-1])[:n]
    keep = tf.reshape(u >= thr8, tf.shape(x))
    return tf.where(keep, x * tf.cast(1 / (1 - rate), x.dtype), tf.zeros_like(x))
for dt in (tf.bfloat16,):
    a = tf.cast(tf.random.normal((8,12,256,256)), dt)
    for _ in range(2):
        bench("tf.nn.dropout", keras_like, a); bench("16-bit masks", bits16, a); bench("8-bit masks", bits8, a)
    k = bits16(a); print("kept fraction 16", float(tf.reduce_mean(tf.cast(k != 0, tf.float32))))
