"""How the service calls the model: the model thread's settings and the category-codes path."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import sklearn
from threadpoolctl import threadpool_info

from nbprod.serving.app import _model_thread_config
from nbprod.serving.model_source import LoadedModel, encoded_predictor, warm_up
from nbprod.serving.validation import frame_from_columns

from conftest import flights


@pytest.fixture(scope="module")
def champion(project) -> LoadedModel:
    from nbprod.serving.model_source import load_version

    return load_version(project.tracking_uri, project.settings["registry"]["model_name"], project.versions[0])


def _openmp_threads() -> list[int]:
    return [api["num_threads"] for api in threadpool_info() if api["user_api"] == "openmp"]


def _settings() -> tuple[list[int], dict]:
    return _openmp_threads(), sklearn.get_config()


def test_model_thread_predicts_with_one_openmp_thread_and_leaves_other_threads_alone():
    with ThreadPoolExecutor(1, initializer=_model_thread_config) as model_thread:
        threads, config = model_thread.submit(_settings).result()
    assert threads and set(threads) == {1}
    assert config["assume_finite"] and config["skip_parameter_validation"]
    assert not sklearn.get_config()["assume_finite"]  # this thread keeps the defaults


@pytest.mark.parametrize("batch", ["the records", "COMPILED_MAX_ROWS of them"])
def test_boosting_is_served_through_codes_with_the_pipelines_answers(champion, good_records, batch):
    from nbprod.serving.model_source import COMPILED_MAX_ROWS

    assert champion.encoded is not None  # the warm-up check kept it
    records = json.loads(json.dumps(good_records))
    records[0]["dest"] = "NEW-AIRPORT"  # unseen category
    if batch != "the records":  # the largest batch the compiled walk takes
        records = (records * COMPILED_MAX_ROWS)[:COMPILED_MAX_ROWS]
    columns = champion.validator.check(records).columns
    predictions, probabilities = champion.predict_columns(columns)
    expected = champion.predict(frame_from_columns(champion.contract, columns))
    np.testing.assert_array_equal(predictions, expected[0])
    np.testing.assert_allclose(probabilities, expected[1], rtol=0, atol=1e-12)


def test_a_disagreeing_codes_path_is_dropped_at_warm_up(champion, caplog):
    loaded = LoadedModel("m", "9", champion.model, "classification", 0.5, champion.contract)
    assert loaded.encoded is not None
    loaded.encoded = lambda columns: np.tile([0.0, 1.0], (len(next(iter(columns.values()))), 1))
    with caplog.at_level(logging.WARNING, logger="nbprod.serving"):
        warm_up(loaded)
    assert loaded.encoded is None and "disagrees" in caplog.text
    X, _ = flights(1)
    columns = {name: X[name].astype(object).tolist() for name in loaded.contract.names}
    assert loaded.predict_columns(columns)[1].shape == (1, 2)  # served by the pipeline


def test_other_models_have_no_codes_path():
    from nbprod.model.features import FeatureBuilder
    from nbprod.model.models import Candidate, make_model

    X, y = flights(300)
    linear = make_model(Candidate("lin", "linear"), "classification", FeatureBuilder(), seed=0).fit(X, y)
    assert encoded_predictor(linear, "classification") is None
    assert LoadedModel("m", "1", linear, "classification", 0.5, linear[0].contract_).inline_rows == 0


def test_only_the_compiled_trees_run_on_the_event_loop_and_only_small_batches(champion, good_records):
    """The champion's trees, compiled, answer up to INLINE_MAX_ROWS rows on the event loop (no thread
    hand-over); the same boosting without its compiled walk, or a larger batch, goes to the model thread."""
    import asyncio

    from nbprod.serving.app import MicroBatcher
    from nbprod.serving.metrics import Metrics
    from nbprod.serving.model_source import INLINE_MAX_ROWS

    assert champion.encoded.compiled and champion.inline_rows == INLINE_MAX_ROWS
    threads = []
    predict_columns = type(champion).predict_columns

    def record(columns):
        import threading

        threads.append(threading.current_thread().name)
        return predict_columns(champion, columns)

    async def serve(records):
        batcher = MicroBatcher(Metrics("m"), max_rows=10_000)
        batcher.start()
        try:
            return await batcher.predict(champion, champion.validator.check(records))
        finally:
            await batcher.stop()

    champion.predict_columns = record
    try:
        small = asyncio.run(serve(good_records[:3]))
        large = asyncio.run(serve(good_records[:2] * INLINE_MAX_ROWS))
    finally:
        del champion.predict_columns
    assert threads == ["MainThread", threads[1]] and threads[1].startswith("nbprod-model")
    assert len(small[0]) == 3 and len(large[0]) == 2 * INLINE_MAX_ROWS
