"""Lineage and audit: from one served prediction back to its raw bytes (:mod:`.chain`), and every champion move
with its trigger and evidence (:mod:`.history`). Log reading (:mod:`.logs`) and rendering (:mod:`.report`) are
pure; the other two read the Dagster instance and MLflow."""
