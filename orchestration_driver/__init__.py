"""The orchestration driver: one command provisions Azure, deploys the chart, loads test data and tears it down.

A top-level package beside the services: it imports ``common`` only (the Azure Files adapter for test data),
and nothing imports it. ``persona-pipeline deploy azure plan|up|status|down`` and ``persona-pipeline testdata
upload`` are registered through the ``persona_pipeline.commands`` entry point (:mod:`orchestration_driver.cli`).
"""
