"""The process: start-up (quiet, deterministic TensorFlow), interrupts, progress, input errors."""
