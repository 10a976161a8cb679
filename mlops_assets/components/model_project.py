"""`ModelProject`: one model project as a Dagster Component, built from its spec file.

A project is declared once, in its spec YAML (the schema of :class:`mlops_assets.spec.ProjectSpec`). The
component's ``defs.yaml`` names that file, the way dagster-dbt's component names a dbt project, so a dg project
gets the platform's graph with ``dg scaffold defs``, ``dg check yaml``, ``dg check defs`` and ``dg list defs``,
while ``mlops-assets check``, ``init`` and the demo keep reading the same file::

    type: mlops_assets.components.ModelProject
    attributes:
      spec: churn.yaml          # relative to this defs.yaml's folder, or absolute
"""

from pathlib import Path

import dagster as dg
from pydantic import BaseModel, Field


class ModelProjectScaffoldParams(BaseModel):
    spec: str | None = Field(None, description="an existing spec YAML to use (path as written to defs.yaml)")
    from_csv: str | None = Field(None, description="infer a new spec from this sample CSV (with --target)")
    target: str | None = Field(None, description="the CSV's column to predict (with --from-csv)")
    task: str | None = Field(None, description="classification or regression (default: inferred)")


class ModelProjectScaffolder(dg.Scaffolder[ModelProjectScaffoldParams]):
    """`dg scaffold defs mlops_assets.components.ModelProject NAME` with ``--spec PATH`` (use an existing spec)
    or ``--from-csv FILE --target COL`` (infer ``NAME.yaml`` beside ``defs.yaml``, as `mlops-assets init` does)."""

    @classmethod
    def get_scaffold_params(cls) -> type[ModelProjectScaffoldParams]:
        return ModelProjectScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[ModelProjectScaffoldParams]) -> None:
        params = request.params or ModelProjectScaffoldParams()
        if params.spec:
            spec = params.spec
        elif params.from_csv and params.target:
            from mlops_assets import spec_init

            name = request.target_path.name
            data, notes = spec_init.infer_spec(spec_init.read_csv_text(params.from_csv), name, params.target,
                                               params.task, source_file=params.from_csv)
            spec = spec_init.write_spec(data, notes, request.target_path).name
            print("\n".join(["Review before the first run:", *(f"  - {n}" for n in notes)]))
        else:
            raise ValueError("ModelProject needs its spec: pass --spec PATH (an existing spec YAML) or "
                             "--from-csv FILE --target COLUMN to infer one from a sample")
        dg.scaffold_component(request, {"spec": spec})


@dg.scaffold_with(ModelProjectScaffolder)
class ModelProject(dg.Component, dg.Resolvable, dg.Model):
    """A model project of mlops-assets: raw data to drift reports, built from the project's spec YAML."""

    spec: str = Field(
        description="The project's spec YAML: a path relative to this component's folder, or absolute "
        "(templates such as '{{ project_root }}/projects/churn.yaml' work). Its file name is the project name."
    )

    def spec_path(self, context: dg.ComponentLoadContext) -> Path:
        path = Path(self.spec)
        return path if path.is_absolute() else (context.path / path).resolve()

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        # Deferred: loading the component type (dg list components, dg check yaml) needs none of the platform.
        from mlops_assets.definitions import build_project_definitions, platform_definitions
        from mlops_assets.spec import load_spec

        spec = load_spec(self.spec_path(context))  # SpecError: file:line: field: message
        return dg.Definitions.merge(build_project_definitions(spec), platform_definitions())
