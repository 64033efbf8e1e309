"""LLM-as-a-judge: the paper's best-of-three protocol (Table 3).

:mod:`judges.base` (interface, registry check), :mod:`judges.protocol` (prompt, shuffle,
scores), :mod:`judges.parsing` (reply parsing), :mod:`judges.best_of_three` (the judge).
"""
