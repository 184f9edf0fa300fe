"""The pure retrain decision: k of the last n voting windows, small windows, the performance floor."""

from __future__ import annotations

from nbprod.monitoring.trigger import Rules, Vote, decide

RULES = Rules(trigger_k=2, trigger_n=3, min_rows=100, performance_floor=0.6)


def votes(*drifts, rows=500):
    return [Vote(start=f"2013-10-{day + 1:02d}T00:00:00", rows=rows, drifted=drift) for day, drift in enumerate(drifts)]


def test_fires_on_k_of_the_last_n():
    decision = decide(votes(False, True, True), RULES)
    assert decision.retrain and decision.trigger == "drift" and decision.kind == "retrain"
    assert decision.window == "2013-10-03T00:00:00"
    assert "2 of the last 3" in decision.reason
    assert decide(votes(True, False, True), RULES).retrain


def test_does_not_fire_on_fewer_than_k():
    decision = decide(votes(False, False, True), RULES)
    assert not decision.retrain and decision.kind == "no_action" and "1 of the last 3" in decision.reason


def test_k_drifted_windows_spread_beyond_the_last_n_do_not_fire():
    assert not decide(votes(True, False, False, True), RULES).retrain
    assert not decide(votes(True, True, False, False, False), RULES).retrain


def test_small_windows_do_not_vote():
    small = [Vote("2013-10-01T00:00:00", 500, True), Vote("2013-10-02T00:00:00", 20, True),
             Vote("2013-10-03T00:00:00", 500, False)]
    decision = decide(small, RULES)
    assert not decision.retrain and decision.skipped == ("2013-10-02T00:00:00",)
    assert decision.voting == ("2013-10-01T00:00:00", "2013-10-03T00:00:00")
    only_small = decide(votes(True, True, True, rows=10), RULES)
    assert not only_small.retrain and "enough rows" in only_small.reason


def test_small_windows_are_skipped_not_counted_in_the_last_n():
    sequence = [Vote("2013-10-01T00:00:00", 500, True), Vote("2013-10-02T00:00:00", 5, False),
                Vote("2013-10-03T00:00:00", 5, False), Vote("2013-10-04T00:00:00", 500, True)]
    assert decide(sequence, RULES).retrain


def test_empty_windows_and_no_windows():
    assert not decide([Vote("2013-10-01T00:00:00", 0, None)], RULES).retrain
    nothing = decide([], RULES)
    assert not nothing.retrain and nothing.window is None and "no window" in nothing.reason


def test_performance_floor_fires_without_drift():
    labelled = votes(False, False) + [Vote("2013-10-03T00:00:00", 500, False, metric="roc_auc", value=0.55)]
    decision = decide(labelled, RULES)
    assert decision.retrain and decision.trigger == "performance" and "below the floor 0.6" in decision.reason
    fine = votes(False, False) + [Vote("2013-10-03T00:00:00", 500, False, metric="roc_auc", value=0.7)]
    assert not decide(fine, RULES).retrain
    error = [Vote("2013-10-03T00:00:00", 500, False, metric="rmse", value=0.7)]
    assert decide(error, RULES).retrain  # error metrics: above the floor is worse
    unknown = [Vote("2013-10-03T00:00:00", 500, False, metric="roc_auc", value=None)]
    assert not decide(unknown, Rules(2, 3, 100, 0.6)).retrain


def test_windows_up_to_the_last_retraining_do_not_vote_again():
    sequence = votes(True, True, False)
    assert decide(sequence, RULES).retrain
    assert not decide(sequence, RULES, since="2013-10-02T00:00:00").retrain
    assert not decide(sequence, RULES, since="2013-10-02T00:00:00+00:00").retrain  # aware: taken as UTC
    assert decide(sequence + votes(True, True)[:0] + [Vote("2013-10-04T00:00:00", 500, True),
                                                      Vote("2013-10-05T00:00:00", 500, True)],
                  RULES, since="2013-10-02T00:00:00").retrain


def test_from_history_window():
    window = {"start": "2013-10-01T00:00:00", "end": "2013-10-08T00:00:00", "rows": 300,
              "drift": {"drifted": True, "share": 0.4}, "performance": {"metric": "roc_auc", "value": 0.7,
                                                                        "reference": 0.72}}
    vote = Vote.from_window(window)
    assert vote.drifted and vote.rows == 300 and vote.share == 0.4 and vote.value == 0.7
    assert Vote.from_window({"start": "x", "rows": 0, "drift": None, "performance": None}).drifted is None


def test_a_drop_below_the_expected_quality_fires_and_a_small_one_does_not():
    rules = Rules(trigger_k=2, trigger_n=3, min_rows=100, performance_floor=0.6, performance_drop=0.05)

    def labelled(value, metric="roc_auc", expected=0.736):
        return votes(False, False) + [Vote("2013-10-03T00:00:00", 500, False, metric=metric, value=value,
                                           expected=expected)]

    dropped = decide(labelled(0.649), rules)
    assert dropped.retrain and dropped.trigger == "performance"
    assert "0.087 worse than the serving model's 0.736 (allowed: 0.05)" in dropped.reason
    assert not decide(labelled(0.70), rules).retrain           # 0.036 worse: within the allowed drop
    assert not decide(labelled(0.649, expected=None), rules).retrain  # nothing to compare with
    errors = Rules(trigger_k=2, trigger_n=3, min_rows=100, performance_floor=None, performance_drop=0.05)
    assert decide(labelled(12.0, metric="rmse", expected=10.0), errors).retrain  # errors: greater is worse
    assert not decide(labelled(8.0, metric="rmse", expected=10.0), errors).retrain
    off = Rules(trigger_k=2, trigger_n=3, min_rows=100, performance_floor=0.6, performance_drop=None)
    assert not decide(labelled(0.649), off).retrain


def test_a_vote_reads_the_expected_quality_from_the_window():
    window = {"start": "2013-10-01T00:00:00", "rows": 300, "drift": {"drifted": False, "share": 0.1},
              "performance": {"metric": "roc_auc", "value": 0.7, "reference": 0.74}}
    assert Vote.from_window(window).expected == 0.74
