"""AMD objectness as a FiftyOne plugin (``@amd/objectness``).

This folder is both a FiftyOne plugin (``fiftyone.yml`` + :func:`register`) and an
importable package: ``fiftyone_plugin.apply.apply_to_collection`` does the work without the
operator machinery. FiftyOne is imported lazily, so ``amd-fiftyone install`` and the core
modules load without it. Install into FiftyOne with ``amd-fiftyone install``.
"""

PLUGIN_NAME = "@amd/objectness"


def register(plugin):
    """Called by FiftyOne's plugin loader: register every operator listed in fiftyone.yml."""
    from fiftyone_plugin.operators import OPERATORS

    for operator in OPERATORS:
        plugin.register(operator)
