"""Where a training step's time goes: the floor under training throughput.

``benchmarks.speed`` reports the project's training throughput as a share of the
machine's dense float32 matmul rate. This command shows, in one process, how
high that share can go on the machine at hand, on the MNIST-sized problem's
shapes (784 inputs, its 256 codes, TopK with its k = 28):

1. the dense matmul rate, measured as ``benchmarks.speed`` measures it;
2. the step's five matrix products alone (forward through encoder and decoder;
   the decoder's weight and input gradients; the encoder's weight gradient);
3. TensorFlow's ``TopK`` on the code pre-activations alone;
4. a minimal training step written directly in TensorFlow: an encoder, TopK
   and a linear decoder, the squared error and a Keras Adam update, on slices
   of an in-memory tensor (no Keras ``fit``, no ``tf.data``, none of the
   project's centring, unit-norm decoder or AuxK), at batch 512 (what
   ``auto`` picks for 48 000 rows) and larger;
5. the project's own training (``fit_sparse_autoencoder``) at its ``auto`` batch.

Each figure is the median of five timed calls of a compiled loop over one
epoch's worth of steps. Runs unchanged on a GPU.

Usage::

    python -m benchmarks.training_floor                # full sizes, about 2 min
    python -m benchmarks.training_floor --scale smoke  # tiny sizes: checks that it runs
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from benchmarks.results import markdown_table
from benchmarks.speed import (
    LossClock,
    MatmulTimer,
    Problem,
    machine,
    mnist_sized_problem,
    project_configs,
    training_flops_per_row,
)
from sae_pipelines.sae import build_sparse_autoencoder, fit_sparse_autoencoder
from sae_pipelines.sae.training import steps_per_epoch

SCALES = {
    "full": {"rows": 60_000, "batches": (512, 1024, 2048), "matmul": 4096, "epochs": 4},
    "smoke": {"rows": 2_000, "batches": (64, 128), "matmul": 512, "epochs": 2},
}


def seconds_per_step(step: Callable[[tf.Tensor], tf.Tensor], steps: int) -> float:
    """Median wall time of one ``step(i)`` in a compiled loop of ``steps`` calls.

    ``step`` returns a scalar that is summed, so that nothing it computes is
    pruned from the graph.
    """

    @tf.function
    def loop() -> tf.Tensor:
        total = tf.zeros(())
        for i in tf.range(steps):
            total += step(i)
        return total

    loop().numpy()  # trace and warm up
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        loop().numpy()
        timings.append((time.perf_counter() - start) / steps)
    return statistics.median(timings)


def matrix_products(
    batch: int, inputs: int, code_size: int
) -> Callable[[tf.Tensor], tf.Tensor]:
    """One step's five matrix products, on random operands."""
    x = tf.random.uniform((batch, inputs))
    codes = tf.random.uniform((batch, code_size))
    encoder = tf.random.uniform((inputs, code_size))
    decoder = tf.random.uniform((code_size, inputs))

    def step(i: tf.Tensor) -> tf.Tensor:
        products = (
            tf.matmul(x, encoder),
            tf.matmul(codes, decoder),
            tf.matmul(codes, x, transpose_a=True),
            tf.matmul(x, decoder, transpose_b=True),
            tf.matmul(x, codes, transpose_a=True),
        )
        return tf.add_n([p[0, 0] for p in products])

    return step


def top_k(batch: int, code_size: int, k: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """The TopK activation's threshold search on one batch of pre-activations."""
    preactivations = tf.random.normal((batch, code_size))

    def step(i: tf.Tensor) -> tf.Tensor:
        shifted = preactivations + tf.cast(i, tf.float32) * 1e-6
        return tf.reduce_sum(tf.math.top_k(shifted, k, sorted=False).values[:, -1])

    return step


def minimal_training(
    x: np.ndarray, batch: int, code_size: int, k: int, learning_rate: float
) -> tuple[Callable[[tf.Tensor], tf.Tensor], int]:
    """The sparse autoencoder's training step, written directly in TensorFlow."""
    steps = len(x) // batch
    rows = tf.constant(x[: steps * batch])
    inputs = x.shape[1]
    init = keras.initializers.GlorotUniform(seed=0)
    weights = [
        tf.Variable(init((inputs, code_size))),
        tf.Variable(tf.zeros(code_size)),
        tf.Variable(init((code_size, inputs))),
        tf.Variable(tf.zeros(inputs)),
    ]
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(weights)
    encoder, encoder_bias, decoder, decoder_bias = weights

    def step(i: tf.Tensor) -> tf.Tensor:
        x_batch = rows[i * batch : (i + 1) * batch]
        with tf.GradientTape() as tape:
            preactivation = tf.matmul(x_batch, encoder) + encoder_bias
            kth = tf.math.top_k(preactivation, k, sorted=False).values
            threshold = tf.reduce_min(kth, axis=-1, keepdims=True)
            codes = tf.where(preactivation >= threshold, preactivation, 0.0)
            output = tf.matmul(codes, decoder) + decoder_bias
            loss = tf.reduce_mean(tf.square(output - x_batch))
        optimizer.apply_gradients(
            zip(tape.gradient(loss, weights), weights, strict=True)
        )
        return loss

    return step, steps


def project_training_seconds(problem: Problem, epochs: int) -> tuple[float, int]:
    """Median training seconds per step of the project's fit, and its batch."""
    x_train = problem.x_train
    model_config, training_config = project_configs(problem.code_size, problem.k)
    training_config = training_config.model_copy(
        update={"epochs": epochs, "early_stopping_patience": epochs}
    )
    clock = LossClock()
    fit_sparse_autoencoder(
        x_train, problem.x_validation, model_config, training_config, callbacks=[clock]
    )
    batch = training_config.for_data(*x_train.shape).batch_size
    steps = steps_per_epoch(len(x_train), batch)
    return statistics.median(clock.train_seconds[1:]) / steps, batch


def main() -> None:
    """Measure each piece and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="full")
    scale = SCALES[parser.parse_args().scale]

    problem = mnist_sized_problem(scale["rows"])
    x = problem.x_train
    inputs = x.shape[1]
    model_config, training_config = project_configs(problem.code_size, problem.k)
    code_size, k = problem.code_size, problem.k
    flops_per_row = training_flops_per_row(
        build_sparse_autoencoder(inputs, model_config)
    )
    reference = MatmulTimer(scale["matmul"]).rate()
    first = scale["batches"][0]
    steps = len(x) // first

    rows = [("dense float32 matmul", "", f"{reference:.1f} GFLOP/s", "100%")]

    def add(measure: str, seconds: float, batch: int) -> None:
        rate = flops_per_row * batch / seconds / 1e9
        rows.append(
            (
                measure,
                f"{seconds * 1e3:.2f} ms",
                f"{rate:.1f} GFLOP/s",
                f"{rate / reference:.0%}",
            )
        )

    add(
        f"the step's five matrix products alone, batch {first}",
        seconds_per_step(matrix_products(first, inputs, code_size), steps),
        first,
    )
    top_k_seconds = seconds_per_step(top_k(first, code_size, k), steps)
    rows.append(
        (
            f"TopK (k = {k} of {code_size}) alone, batch {first}",
            f"{top_k_seconds * 1e3:.2f} ms",
            "",
            "",
        )
    )
    learning_rate = training_config.for_data(*x.shape).learning_rate
    for batch in scale["batches"]:
        step, batch_steps = minimal_training(x, batch, code_size, k, learning_rate)
        add(
            f"minimal TensorFlow training step, batch {batch}",
            seconds_per_step(step, batch_steps),
            batch,
        )
    seconds, batch = project_training_seconds(problem, scale["epochs"])
    add(
        f"the project's training (fit_sparse_autoencoder), batch {batch}",
        seconds,
        batch,
    )

    print(f"Machine: {machine()}\n")
    print("\n".join(markdown_table(["measure", "per step", "rate", "of matmul"], rows)))


if __name__ == "__main__":
    main()
