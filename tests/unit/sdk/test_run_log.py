"""``run.log`` with W&B's step and commit rules, ``run.summary`` and ``run.config`` updates,
against a fake of our run history API."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

import cairn
from cairn.errors import CairnError
from cairn.sdk.config import ConfigError
from tests.unit.sdk.history_fake import FakeHistory, server

__all__ = ["server"]  # the fixture


def rows(history: FakeHistory, run: cairn.Run) -> list[dict[str, Any]]:
    return history.runs[run.path].rows


def test_each_log_commits_a_row_at_the_next_step(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    before = time.time()
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1), "epoch": 0})
    assert run.step == 3
    run.finish()
    logged = rows(server, run)
    assert [r["_step"] for r in logged] == [0, 1, 2]
    assert [r["loss"] for r in logged] == [1.0, 0.5, 1.0 / 3]
    assert all(before <= r["_timestamp"] <= time.time() for r in logged)
    assert all(0 <= r["_runtime"] < 60 for r in logged)
    assert server.runs[run.path].state == "finished"


def test_commit_false_accumulates_into_the_current_row(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    assert run.step == 0
    run.log({"c": 3})
    run.log({"a": 4}, commit=False)  # still open at finish: committed then, as W&B does
    run.finish()
    assert [{k: r[k] for k in "abc" if k in r} for r in rows(server, run)] == [
        {"a": 1, "b": 2, "c": 3},
        {"a": 4},
    ]
    assert [r["_step"] for r in rows(server, run)] == [0, 1]


def test_an_explicit_step_keeps_the_row_open_until_a_later_step(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    run.log({"train": 1}, step=5)
    run.log({"val": 2}, step=5)  # the same step: merged
    run.log({"train": 3}, step=7)  # a higher step commits step 5
    run.log({"extra": 4})  # no step: commits the open row at 7
    run.log({"last": 5})
    run.finish()
    assert [
        (r["_step"], {k: v for k, v in r.items() if not k.startswith("_")})
        for r in rows(server, run)
    ] == [
        (5, {"train": 1, "val": 2}),
        (7, {"train": 3, "extra": 4}),
        (8, {"last": 5}),
    ]


def test_a_lower_step_is_ignored_with_a_warning(
    server: FakeHistory, capsys: pytest.CaptureFixture[str]
) -> None:
    run = cairn.init(project="p")
    run.log({"a": 1}, step=10)
    run.log({"a": 2}, step=3)
    run.finish()
    assert "step 3 is below the current step 10" in capsys.readouterr().err
    assert [(r["_step"], r["a"]) for r in rows(server, run)] == [(10, 1)]


def test_the_summary_is_the_last_value_unless_set_explicitly(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    run.log({"loss": 3.0, "acc": 0.1})
    run.log({"loss": 2.0})
    assert run.summary["loss"] == 2.0
    assert run.summary["acc"] == 0.1
    assert cairn.summary is run.summary
    run.summary["best_acc"] = 0.9
    run.summary.update({"loss": 0.5})
    run.summary.acc = 0.2
    assert (run.summary["loss"], run.summary.acc, run.summary["_step"]) == (0.5, 0.2, 1)
    run.log({"loss": 1.5})  # a later log wins again
    assert run.summary["loss"] == 1.5
    del run.summary["best_acc"]
    expected = run.summary.as_dict()
    run.finish()
    assert server.runs[run.path].summary == expected
    kinds = [kind for _, _, _, kind in server.writes]
    assert kinds.index("summary") > kinds.index("history")  # in order with the rows
    assert sorted(seq for _, _, seq, _ in server.writes) == [s for _, _, s, _ in server.writes]


def test_config_changes_after_init_are_sent(server: FakeHistory) -> None:
    run = cairn.init(project="p", config={"lr": 0.1})
    run.config.batch_size = 32
    run.config["layers"] = 4
    run.config.update({"lr": 0.1})  # the same value: no change
    with pytest.raises(ConfigError, match="allow_val_change"):
        run.config.update({"lr": 0.2})
    with pytest.raises(ConfigError):
        run.config.lr = 0.3
    run.config.update({"lr": 0.2}, allow_val_change=True)
    run.config.setdefaults({"layers": 8, "dropout": 0.5})
    with pytest.raises(ValueError, match="must be JSON"):
        run.config.update({"bad": float("nan")})
    run.finish()
    assert server.runs[run.path].config == {
        "lr": 0.2,
        "batch_size": 32,
        "layers": 4,
        "dropout": 0.5,
    }
    assert len([w for w in server.writes if w[3] == "config"]) == 4


def test_bad_rows_are_refused_at_once(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    with pytest.raises(ValueError, match="dict"):
        run.log([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keys must be strings"):
        run.log({1: 2})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="keys must be strings"):
        run.log({"x" * 300: 1})
    with pytest.raises(ValueError, match="keys must be strings"):
        run.log({"": 1})
    run.log({})  # an empty row is a step, as in W&B
    run.finish()
    assert [r["_step"] for r in rows(server, run)] == [0]
    with pytest.raises(CairnError, match="finished"):
        run.log({"a": 1})


def test_logged_values_are_copied_and_made_json(server: FakeHistory) -> None:
    class Scalar:  # what numpy and torch scalars offer
        def item(self) -> float:
            return 2.5

    class Array:
        def tolist(self) -> list[int]:
            return [1, 2]

    run = cairn.init(project="p")
    nested = {"train": {"loss": 1.0}, "seen": [1]}
    run.log(nested)
    nested["train"]["loss"] = 9.0
    nested["seen"].append(2)
    run.log(
        {
            "s": Scalar(),
            "a": Array(),
            "nan": float("nan"),
            "inf": float("inf"),
            "t": "text",
            "n": None,
            "b": True,
            "set": {3, 1},
            "obj": object(),
        }
    )
    run.finish()
    first, second = rows(server, run)
    assert (first["train"], first["seen"]) == ({"loss": 1.0}, [1])
    assert (second["s"], second["a"], second["t"], second["n"], second["b"]) == (
        2.5,
        [1, 2],
        "text",
        None,
        True,
    )
    assert math.isnan(second["nan"])
    assert second["inf"] == math.inf
    assert second["set"] == [1, 3]
    assert second["obj"].startswith("<object object")


def test_top_level_log_uses_the_active_run(server: FakeHistory) -> None:
    run = cairn.init(project="p")
    cairn.log({"a": 1})
    cairn.log({"b": 2}, step=4)
    cairn.finish()
    assert [(r["_step"], r.get("a"), r.get("b")) for r in rows(server, run)] == [
        (0, 1, None),
        (4, None, 2),
    ]
