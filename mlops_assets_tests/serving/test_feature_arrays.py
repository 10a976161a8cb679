"""The numpy path (raw rows as numpy columns → features → row hashes → model) gives exactly what the pandas path
gives, for every shipped project: features, their hashes, predictions and scores, through the model and through
the micro-batcher."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from mlops_assets.data.fingerprint import row_hashes
from mlops_assets.features.transforms import build_feature_arrays, build_features
from mlops_assets.serving.batching import Job, MicroBatcher
from mlops_assets.serving.contract import Contract
from mlops_assets.serving.models import LoadedModel, ModelInfo
from mlops_assets.spec import DbtFeatures, load_spec
from mlops_assets.training.estimators import build_pipeline, split_columns
from mlops_assets_tests.serving.helpers import PROJECTS

SPECS = sorted(PROJECTS.glob("*.yaml"))


def generated_records(contract: Contract, n: int, seed: int, drop: tuple[str, str] | None = None) -> list[dict]:
    """``n`` valid JSON records of the contract's fields: bounds and zero as well as random values, ints sent for
    floats, null in one record of about six where the field is nullable; ``drop = (field, category)`` leaves
    that category out."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        rec: dict = {}
        for name, col in contract.columns.items():
            r = rng.random()
            if col.nullable and r < 0.17:
                rec[name] = None
            elif col.dtype in ("int", "float"):
                lo = col.min if col.min is not None else -1000.0
                hi = col.max if col.max is not None else lo + 2000.0
                edge = [lo, hi, max(lo, min(hi, 0.0))]
                v = edge[int(r * 10) % 3] if r < 0.4 else rng.uniform(lo, hi)
                if col.dtype == "int":
                    rec[name] = int(round(v))
                else:
                    rec[name] = int(v) if r > 0.9 else float(v)  # JSON ints in a float field, as clients send them
            elif col.dtype == "bool":
                rec[name] = bool(r < 0.5)
            elif col.categories is not None:
                allowed = [c for c in col.categories if drop is None or (name, c) != drop]
                rec[name] = str(allowed[rng.integers(len(allowed))])
            else:
                rec[name] = f"v{rng.integers(1000)}"
        out.append(rec)
    return out


def _unseen(spec) -> tuple[str, str]:
    """A categorical feature column and one of its categories (left out of training)."""
    cols = spec.schema_.columns
    name = next(c for c in spec.features.columns if c in cols and cols[c].categories)
    return name, cols[name].categories[-1]


def _validated_shapes(contract: Contract, recs: list[dict]):
    """The same records validated every way a request can arrive: one list, one record at a time, a frame."""
    yield "records", contract.validate_records(recs)
    yield "frame", contract.validate(pd.DataFrame(recs))
    for i in range(0, len(recs), 37):
        yield f"record {i}", contract.validate_records([recs[i]])


@pytest.fixture(scope="module", params=SPECS, ids=lambda p: p.stem)
def project(request):
    """(spec, contract, model) with a model fitted on generated rows missing one category."""
    from threadpoolctl import threadpool_limits

    spec = load_spec(request.param)
    contract = Contract(spec)
    train = contract.validate_records(generated_records(contract, 600, seed=1, drop=_unseen(spec))).raw
    feats = build_features(spec, train)
    rng = np.random.default_rng(2)
    y = (rng.random(len(feats)) < 0.4).astype("int64") if spec.target.task == "classification" \
        else rng.normal(100.0, 10.0, len(feats))
    numeric, categorical = split_columns(feats, list(spec.features.columns))
    with threadpool_limits(1):
        pipe = build_pipeline(spec.target.task, spec.training.estimator, {"max_iter": 25}, 0, numeric,
                              categorical).fit(feats, y)
        model = LoadedModel(pipe, ModelInfo(spec.name, "m", "1"), spec.target.task)
        # Checked on rows of training's categories: the compiled path (which a category unseen at training turns
        # off) is on, so the test covers it and its fallback.
        seen = generated_records(contract, 48, seed=9, drop=_unseen(spec))
        model.check(contract.features(contract.validate_records(seen).raw))
    return spec, contract, model


def test_features_and_row_hashes_are_identical(project):
    spec, contract, _ = project
    recs = generated_records(contract, 400, seed=3)
    nullable = [n for n, c in contract.columns.items() if c.nullable]
    assert all(any(r[n] is None for r in recs) for n in nullable)  # the generator reaches the nulls
    for shape, checked in _validated_shapes(contract, recs):
        assert checked.columns is not None, shape  # every shipped project's requests take the numpy path
        arrays = build_feature_arrays(spec, checked.columns)
        assert arrays is not None and list(arrays) == list(spec.features.columns)
        assert all(type(a) is np.ndarray for a in arrays.values())
        frame = build_features(spec, checked.raw)
        pd.testing.assert_frame_equal(pd.DataFrame(arrays), frame.reset_index(drop=True), check_exact=True)
        assert row_hashes(arrays) == row_hashes(frame), shape


def test_predictions_are_identical_including_categories_unseen_at_training(project):
    spec, contract, model = project
    assert model.fast  # the compiled path is on: the numpy columns go through it
    name, category = _unseen(spec)
    recs = generated_records(contract, 400, seed=4)
    assert any(r[name] == category for r in recs)
    checked = contract.validate_records(recs)
    arrays = build_feature_arrays(spec, checked.columns)
    frame = build_features(spec, checked.raw)
    unseen = np.flatnonzero(frame[name].to_numpy() == category)
    assert model._compiled[0]({c: a[unseen] for c, a in arrays.items()}) is None  # left to the pipeline
    for rows in (slice(None), slice(0, 1), slice(5, 13), unseen[:1], unseen):
        sub = {c: a[rows] for c, a in arrays.items()}
        for fast in (True, False):
            model.fast = fast
            try:
                got, want = model.predict(sub), model.predict(frame.iloc[rows])
            finally:
                model.fast = True
            assert all(np.array_equal(a, b) for a, b in zip(got, want)), (rows, fast)


def test_the_batcher_answers_and_hashes_alike_on_both_paths(project):
    spec, contract, model = project
    recs = generated_records(contract, 120, seed=5)
    sizes = [1, 1, 3, 1, 7, 2, 1, 40, 1, 5]
    requests, at = [], 0
    for k in sizes * 2:
        requests.append(recs[at : at + k])
        at = (at + k) % (len(recs) - 40)
    calls = []

    def arrays(columns):
        calls.append(len(next(iter(columns.values()))))
        return contract.feature_arrays(columns)

    async def serve(feature_arrays):
        shadows = {}

        def on_scored(scored):
            shadows.update({j.tag: (pred, score) for j, _, role, pred, score in scored if role == "shadow"})

        b = MicroBatcher(contract.features, row_hash=row_hashes, feature_arrays=feature_arrays, fill_wait_s=0.001,
                         on_scored=on_scored)
        await b.start()
        try:  # every third request also scored by a shadow model (rows picked out of the batch's features)
            jobs = [Job(c.frame, model, "live", columns=c.columns, shadow=model if i % 3 == 0 else None, tag=i)
                    for i, c in enumerate(contract.validate_records(r) for r in requests)]
            answers = []
            for i in range(0, len(jobs), 4):  # a few jobs at once: batches of one and of several requests
                answers += await asyncio.gather(*(b.submit(j) for j in jobs[i : i + 4]))
            return answers, [j.feature_hashes for j in jobs], shadows
        finally:
            await b.stop()

    numpy_answers, numpy_hashes, numpy_shadows = asyncio.run(serve(arrays))
    pandas_answers, pandas_hashes, pandas_shadows = asyncio.run(serve(None))
    assert sum(calls) == sum(len(r) for r in requests)  # every row went through the numpy path
    assert numpy_hashes == pandas_hashes and all(h is not None for h in numpy_hashes)
    assert sorted(numpy_shadows) == sorted(pandas_shadows) == list(range(0, len(requests), 3))
    for i, (p1, s1) in enumerate(numpy_answers):
        p2, s2 = pandas_answers[i]
        assert np.array_equal(p1, p2) and np.array_equal(s1, s2)
        if i in numpy_shadows:  # the shadow is the same model: the live answer again
            assert all(np.array_equal(a, b) for a, b in zip(numpy_shadows[i], (p1, s1)))
            assert all(np.array_equal(a, b) for a, b in zip(numpy_shadows[i], pandas_shadows[i]))


def test_a_feature_model_without_an_array_twin_falls_back_to_pandas(project, monkeypatch):
    spec, contract, model = project
    from mlops_assets.features import transforms

    monkeypatch.setattr(transforms, "FEATURE_ARRAY_FUNCTIONS", {})
    checked = contract.validate_records(generated_records(contract, 5, seed=6))
    arrays = build_feature_arrays(spec, checked.columns)
    if isinstance(spec.features, DbtFeatures):
        assert arrays is None

        async def one():
            b = MicroBatcher(contract.features, feature_arrays=contract.feature_arrays)
            await b.start()
            try:
                return await b.submit(Job(checked.frame, model, "live", columns=checked.columns))
            finally:
                await b.stop()

        pred, score = asyncio.run(one())
        want = model.predict(build_features(spec, checked.raw))
        assert np.array_equal(pred, want[0]) and np.array_equal(score, want[1])
    else:  # pass-through features need no function
        assert list(arrays) == list(spec.features.columns)
