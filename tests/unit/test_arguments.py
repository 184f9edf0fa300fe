"""Numeric option types: bad values are argparse's one-line usage errors, naming the option."""

from __future__ import annotations

import argparse

import pytest

from nbprod import cli
from nbprod.arguments import at_least, port, positive


def parse(*argv: str) -> argparse.Namespace:
    return cli.parser(argv[0]).parse_args(list(argv))


def test_types_accept_their_range():
    assert port("8765") == 8765 and at_least(1)("3") == 3 and at_least(0, float)("0") == 0.0
    assert positive("0.5") == 0.5


@pytest.mark.parametrize("argv, message", [
    (("serve", "--port", "70000"), "argument --port: must be between 1 and 65535, got 70000"),
    (("serve", "--port", "x"), "argument --port: expected a whole number, got 'x'"),
    (("serve", "--reload-seconds", "0"), "argument --reload-seconds: must be greater than 0, got 0"),
    (("serve", "--batch-wait-ms", "-5"), "argument --batch-wait-ms: must be at least 0, got -5"),
    (("serve", "--max-batch-rows", "0"), "argument --max-batch-rows: must be at least 1, got 0"),
    (("serve", "--model-threads", "0"), "argument --model-threads: must be at least 1, got 0"),
    (("score", "a.csv", "b.csv", "--chunk-rows", "-5"), "argument --chunk-rows: must be at least 1, got -5"),
    (("dashboard", "--port", "-1"), "argument --port: must be between 1 and 65535, got -1"),
    (("dashboard", "--snapshot", "--timeout", "-1"), "argument --timeout: must be at least 1, got -1"),
    (("replay", "--weeks", "0"), "argument --weeks: must be at least 1, got 0"),
])
def test_bad_numbers_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_monitor_time_bounds_must_be_dates(capsys):
    assert parse("monitor", "--since", "2013-10-01", "--until", "2013-11-01T06:00").since == "2013-10-01"
    with pytest.raises(SystemExit):
        parse("monitor", "--since", "garbage")
    assert "argument --since: expected a date or date-time such as 2013-10-01, got 'garbage'" in capsys.readouterr().err
