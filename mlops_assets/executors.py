"""The step executor, chosen per deployment from the environment (never fixed in the definitions).

``MLOPS_EXECUTOR``:

- ``in_process`` (default): every step of a run in the run's own process; small pandas/dbt steps on a small box.
- ``multiprocess``: a process per step, on the machine of the run.
- ``celery``: each step is a Celery task executed by a ``dagster-celery`` worker (``make worker``), possibly on
  another machine; the broker is ``MLOPS_CELERY_BROKER`` (default RabbitMQ on localhost), results go to
  ``MLOPS_CELERY_BACKEND`` (default ``rpc://``) and steps are queued on ``MLOPS_CELERY_QUEUE`` (default
  ``dagster``, the queue a worker started by ``make worker`` listens on). The workers must load the same code
  (the code-location image) with the same ``MLOPS_DATA_DIR`` / ``MLFLOW_TRACKING_URI`` and reach the instance's
  storage (PostgreSQL): they run the steps. ``deploy/celery.yaml`` gives the workers the same broker settings.

The environment is read when the definitions load: it is the code location's start-up configuration.
"""

from __future__ import annotations

import functools
import os

from dagster import ExecutorDefinition, in_process_executor, multiprocess_executor

from mlops_assets import constants as C

EXECUTORS = ("in_process", "multiprocess", "celery")
DEFAULT_BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
DEFAULT_BACKEND = "rpc://"
DEFAULT_QUEUE = "dagster"


def celery_settings(environ: dict[str, str] | None = None) -> dict:
    """The Celery executor's config. A URL set in the environment is passed as ``{"env": NAME}``, so the UI shows
    the variable's name, never a broker password; unset ones take the local defaults."""
    env = os.environ if environ is None else environ

    def source(name: str, default: str):
        return {"env": name} if env.get(name) else default

    return {
        "broker": source(C.CELERY_BROKER_ENV, DEFAULT_BROKER),
        "backend": source(C.CELERY_BACKEND_ENV, DEFAULT_BACKEND),
        "config_source": {"task_default_queue": env.get(C.CELERY_QUEUE_ENV) or DEFAULT_QUEUE},
    }


def executor_from_env(environ: dict[str, str] | None = None) -> ExecutorDefinition:
    """The executor ``MLOPS_EXECUTOR`` names; an unknown name is refused with the accepted ones."""
    env = os.environ if environ is None else environ
    name = (env.get(C.EXECUTOR_ENV) or "in_process").strip().lower().replace("-", "_")
    if name == "in_process":
        return in_process_executor
    if name == "multiprocess":
        return multiprocess_executor
    if name == "celery":
        try:
            from dagster_celery import celery_executor
        except ImportError as err:  # pragma: no cover - depends on the installed extras
            raise RuntimeError(
                f"{C.EXECUTOR_ENV}=celery needs dagster-celery: pip install -c constraints.txt -e '.[celery]'"
            ) from err
        return celery_executor.configured(celery_settings(env), name="celery")
    raise ValueError(f"{C.EXECUTOR_ENV}={env.get(C.EXECUTOR_ENV)!r} is not an executor: use one of {', '.join(EXECUTORS)}")


@functools.cache
def deployment_executor() -> ExecutorDefinition:
    """:func:`executor_from_env` once per process: every `ModelProject` component of a dg project binds this same
    object, which is what lets Dagster merge their definitions (it refuses two different executors)."""
    return executor_from_env()
