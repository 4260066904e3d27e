"""The plugin's operators (each in its own module); importing this imports FiftyOne."""

from fiftyone_plugin.operators.adapt_amd import AdaptAMD
from fiftyone_plugin.operators.apply_amd import ApplyAMD
from fiftyone_plugin.operators.evaluate_amd import EvaluateAMD
from fiftyone_plugin.operators.filter_by_objectness import FilterByObjectness

OPERATORS = (ApplyAMD, FilterByObjectness, EvaluateAMD, AdaptAMD)

__all__ = ["OPERATORS", "AdaptAMD", "ApplyAMD", "EvaluateAMD", "FilterByObjectness"]
