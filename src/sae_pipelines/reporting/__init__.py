"""What a person reads: plots, HTML reports and their templates; no Kedro.

``render`` (drawing a figure once, filling a template), ``plots`` (the
evaluation's figures), ``evaluation`` (its report: the SAE beside the
baselines), ``repeats`` (the spread over seeds), ``frontier`` (the
sparsity–fidelity frontier), ``metrics`` (metrics in kedro-mlflow's form).
The pipelines compute the numbers and call these for the pages.
"""
