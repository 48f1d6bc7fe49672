"""The case workspace, one file per area of the case: each declares its SECTION (see
``section.py``); ``workspace.py`` lists them, serves them as pages, fragments and live swaps."""
