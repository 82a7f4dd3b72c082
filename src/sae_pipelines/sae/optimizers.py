"""The optimisers that training builds from the ``training.optimizer`` setting.

``adam`` is :class:`FusedAdam`: Keras's Adam with each variable's update done
by TensorFlow's fused ``ResourceApplyAdam`` kernel. Keras updates a variable in
about ten separate element-wise ops, each a pass over the weights; on a CPU
that costs as much per step as a batch of a few hundred rows.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import ops

from sae_pipelines.sae.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedAdam(keras.optimizers.Adam):
    """Adam (Kingma & Ba, 2015) with one fused kernel per variable and step.

    The same update as :class:`keras.optimizers.Adam`, with the same settings
    and ``get_config``: ``m ← m + (g − m)(1 − β₁)``, ``v ← v + (g² − v)(1 − β₂)``,
    ``w ← w − α·m / (√v + ε)`` with ``α = lr·√(1 − β₂ᵗ) / (1 − β₁ᵗ)``. AMSGrad,
    which the kernel lacks, falls back to Keras's own update.
    """

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """Apply one Adam step to ``variable``."""
        if self.amsgrad:
            super().update_step(gradient, variable, learning_rate)
            return
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=ops.power(beta_1, step),
            beta2_power=ops.power(beta_2, step),
            lr=ops.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype),
        )


def build_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """The optimiser named by ``training.optimizer``, at ``learning_rate``.

    Args:
        name: ``adam`` (fused, see :class:`FusedAdam`), or another Keras
            optimiser's name such as ``adamw``, ``rmsprop`` or ``sgd``.
        learning_rate: The step size.

    Returns:
        A new, unbuilt optimiser.
    """
    if name == "adam":
        return FusedAdam(learning_rate)
    return keras.optimizers.get(
        {"class_name": name, "config": {"learning_rate": learning_rate}}
    )
