"""Named routing systems = (label source, router) pairs: the rows of the paper's Table 1."""

from baselines.systems import FAMILY_OF_LABELS, SYSTEMS, System, get_system, system_scores

__all__ = ["FAMILY_OF_LABELS", "SYSTEMS", "System", "get_system", "system_scores"]
