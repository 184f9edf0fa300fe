"""nbprod.serving.prediction_log: how buffered values become Arrow columns."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from nbprod.serving.prediction_log import _feature_array


def test_date_times_are_stored_in_utc_aware_converted_naive_taken_as_utc_none_missing():
    new_york = timezone(timedelta(hours=-5))
    column = _feature_array([datetime(2024, 1, 1, 7, 30, tzinfo=new_york), datetime(2024, 3, 1, 12), None,
                             datetime(2999, 12, 31, 23, 59, 59, 999999)])
    assert str(column.type) == "timestamp[us]"
    assert column.to_pylist() == [datetime(2024, 1, 1, 12, 30), datetime(2024, 3, 1, 12), None,
                                  datetime(2999, 12, 31, 23, 59, 59, 999999)]


def entries(count: int, missing_until: int = 0) -> tuple[tuple[str, ...], list[tuple]]:
    """``count`` one-row requests as the service buffers them; ``x`` missing in the first ``missing_until``."""
    import numpy as np

    from nbprod.model.labels import ClassLabels

    names, labels = ("carrier", "x"), ClassLabels.of([0, 1])
    return names, [(names, {"carrier": (f"c{n % 3}",), "x": (None if n < missing_until else float(n),)},
                    np.array([n % 2]), np.array([[0.4, 0.6]]), "m", "1", f"r{n}", 1.7e9 + n, labels, None)
                   for n in range(count)]


def test_a_flush_converted_in_steps_is_the_table_converted_at_once():
    from nbprod.serving.prediction_log import CONVERT_ENTRIES, _table, _table_in_steps

    names, many = entries(3 * CONVERT_ENTRIES + 7)
    assert _table_in_steps(names, many).equals(_table(names, many))
    names, odd = entries(2 * CONVERT_ENTRIES, missing_until=CONVERT_ENTRIES)  # one step without x at all
    table = _table_in_steps(names, odd)
    assert table.equals(_table(names, odd)) and str(table.schema.field("x").type) == "double"
