import logging
import os
import subprocess
import sys

import pytest

from sae_pipelines.runtime.quiet import kept_lines

PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
INFO = "I0000 00:00:1796254392.435290    4056 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
ERROR = "E0000 00:00:1796254406.194414    4056 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
OTHER = "Traceback (most recent call last):\n"


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        (0, [PREAMBLE, INFO, ERROR, OTHER]),
        (1, [ERROR, OTHER]),
        (3, [OTHER]),
    ],
)
def test_only_abseil_lines_below_the_level_are_dropped(level, kept):
    assert kept_lines([PREAMBLE, INFO, ERROR, OTHER], level) == kept


def test_starting_the_project_loads_tensorflow_silently():
    code = (
        "import os; from sae_pipelines.runtime.startup import start; start(); "
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert (result.stdout, result.stderr) == ("3\n", "")


def test_tensorflow_retracing_notices_are_dropped_and_its_other_warnings_kept(caplog):
    logger = logging.getLogger("tensorflow")  # conftest started the project
    with caplog.at_level(logging.WARNING):
        logger.warning(
            "5 out of the last 5 calls to <function f at 0x7f> triggered "
            "tf.function retracing. Tracing is expensive"
        )
        logger.warning("another TensorFlow warning")

    assert [record.getMessage() for record in caplog.records] == [
        "another TensorFlow warning"
    ]
