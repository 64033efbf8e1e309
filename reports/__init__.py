"""Reports: pure functions from tracked MLflow runs to tables and figures.

:mod:`reports.runs` reads runs, :mod:`reports.tables` builds Table 1/2/3 and the cost tables,
:mod:`reports.figures` Figures 1 and 2, :mod:`reports.render` formats Markdown/LaTeX/HTML,
:mod:`reports.build` writes them (``routerlab report``). The paper's published numbers are a
reference data file (``paper_numbers.toml``); everything else comes from runs.
"""
