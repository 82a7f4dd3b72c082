import io
import logging

import pytest
from rich.console import Console
from rich.logging import RichHandler

from sae_pipelines.runtime.progress import ProgressReport

logger = logging.getLogger("tests.progress")


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=120)


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger.name]


def test_a_terminal_shows_a_bar_with_logs_above_it_and_logs_no_progress(caplog):
    screen = console(terminal=True)
    logger.addHandler(RichHandler(console=screen))
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            with ProgressReport("Training", 50, "epochs", logger, screen) as report:
                for epoch in range(1, 51):
                    report.update(epoch, f"loss={1 / epoch:.5f}")
                    if epoch == 25:
                        logger.info("Epoch 25: resampled 3 dead code units")
    finally:
        logger.handlers.clear()
    shown = screen.file.getvalue()
    assert "Training" in shown and "50/50" in shown and "loss=0.02000" in shown
    # The record was printed once, above the bar, which is drawn again after it.
    assert shown.count("dead code units") == 1
    assert shown.rindex("50/50") > shown.index("dead code units")
    assert lines(caplog) == ["Epoch 25: resampled 3 dead code units"]


def test_without_a_terminal_a_line_per_tenth(caplog):
    with caplog.at_level(logging.INFO, logger=logger.name):
        with ProgressReport(
            "Training", 300, "epochs", logger, console(False)
        ) as report:
            for epoch in range(1, 301):
                report.update(epoch, f"loss={epoch:.1f}")
    logged = lines(caplog)
    assert len(logged) == 10
    assert logged[0] == "Training: 30/300 epochs (10%), loss=30.0, 0 s"
    assert logged[-1].startswith("Training: 300/300 epochs (100%), loss=300.0,")


def test_work_that_ends_early_logs_where_it_ended(caplog):
    with caplog.at_level(logging.INFO, logger=logger.name):
        with ProgressReport(
            "Training", 100, "epochs", logger, console(False)
        ) as report:
            for epoch in range(1, 36):
                report.update(epoch)
    logged = lines(caplog)
    assert [line.split(",")[0] for line in logged] == [
        "Training: 10/100 epochs (10%)",
        "Training: 20/100 epochs (20%)",
        "Training: 30/100 epochs (30%)",
        "Training: 35/100 epochs (35%)",
    ]


@pytest.mark.parametrize("every_s", [3600.0, 0.0])
def test_an_unknown_total_logs_on_time_and_at_the_end(caplog, every_s):
    with caplog.at_level(logging.INFO, logger=logger.name):
        with ProgressReport(
            "Batch extraction", None, "rows", logger, console(False), every_s
        ) as report:
            for chunk in range(1, 6):
                report.update(100 * chunk, f"{chunk}/5 partitions")
    logged = lines(caplog)
    assert len(logged) == (1 if every_s else 5)
    assert logged[-1].startswith("Batch extraction: 500 rows, 5/5 partitions,")
