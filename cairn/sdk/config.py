"""``run.config``: the run's hyperparameters, a dict that also reads and writes as attributes."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any


class Config(MutableMapping[str, Any]):
    """``run.config["lr"]`` or ``run.config.lr``.

    The values given to ``cairn.init(config=...)`` are stored with the run; later changes stay
    local to this process.
    """

    _values: dict[str, Any]

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_values", dict(values or {}))

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def __delitem__(self, key: str) -> None:
        del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self._values[key] = value

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Config({self._values!r})"


def config_values(config: Any) -> dict[str, Any]:
    """A dict from what W&B's ``init(config=...)`` accepts: a mapping or an object with
    attributes (an ``argparse.Namespace``)."""
    if config is None:
        return {}
    if isinstance(config, MutableMapping) or hasattr(config, "keys"):
        return {str(k): config[k] for k in config.keys()}  # noqa: SIM118 - any mapping
    if hasattr(config, "__dict__"):
        return {k: v for k, v in vars(config).items() if not k.startswith("_")}
    raise ValueError(f"config must be a dict or an argparse.Namespace, not {type(config).__name__}")
