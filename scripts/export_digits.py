"""Write scikit-learn's bundled UCI handwritten digits to ``data/01_raw/digits.csv``.

Run once; the CSV is committed so that ``kedro run`` never fetches anything.
"""

from pathlib import Path

from sklearn.datasets import load_digits

OUTPUT = Path(__file__).resolve().parents[1] / "data" / "01_raw" / "digits.csv"


def main() -> None:
    """Export the 1797 × 64 pixel table with its ``label`` column."""
    digits = load_digits(as_frame=True)
    table = digits.frame.rename(columns={"target": "label"}).astype("int64")
    table.to_csv(OUTPUT, index=False)


if __name__ == "__main__":
    main()
