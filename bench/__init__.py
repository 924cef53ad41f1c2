"""The benchmark harness (issue 8): our figures beside their baselines, measured in one run
on one machine. Entry point: ``bench/run`` (``python -m bench``); see bench/README.md."""
