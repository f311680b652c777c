"""``run.summary``: W&B's summary, the last logged value of each key unless set explicitly."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any


class Summary(MutableMapping[str, Any]):
    """``run.summary["best_acc"] = 0.93`` or ``run.summary.best_acc``.

    Every committed ``run.log`` row sets its keys here; an explicit assignment or ``update``
    overrides them until a later row logs the key again, as in W&B. Explicit changes are sent
    to the server in order with the rows.
    """

    _values: dict[str, Any]
    _send: Callable[[dict[str, Any]], None]

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_send", send)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        self._send({"remove": [key]})

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(  # type: ignore[override]
        self, other: Mapping[str, Any] | Iterable[tuple[str, Any]] = (), /, **kwargs: Any
    ) -> None:
        """Set several keys at once (one update on the wire)."""
        values = dict(other, **kwargs)
        if not all(isinstance(key, str) for key in values):
            raise ValueError("summary keys must be strings")
        self._values.update(values)
        self._send({"update": values})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Summary({self._values!r})"
