"""``run.config``: the run's hyperparameters, a dict that also reads and writes as attributes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from cairn.errors import CairnError


class ConfigError(CairnError, ValueError):
    """A config value would change without ``allow_val_change=True`` (as W&B's)."""


class Config(MutableMapping[str, Any]):
    """``run.config["lr"]`` or ``run.config.lr``.

    The values given to ``cairn.init(config=...)`` are stored with the run, and so are later
    changes (sent in order with the run's history). As in W&B, changing a key's value raises
    ``ConfigError`` unless ``config.update({...}, allow_val_change=True)``.
    """

    _values: dict[str, Any]
    _on_change: Callable[[dict[str, Any]], None] | None

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_values", dict(values or {}))
        object.__setattr__(self, "_on_change", None)

    def _watch(self, on_change: Callable[[dict[str, Any]], None]) -> None:
        """Report later changes as ``{"update": {...}}`` or ``{"remove": [...]}``."""
        object.__setattr__(self, "_on_change", on_change)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        if self._on_change is not None:
            self._on_change({"remove": [key]})

    def update(  # type: ignore[override]
        self,
        other: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
        allow_val_change: bool = False,
        **kwargs: Any,
    ) -> None:
        """Set several keys at once (one change on the wire)."""
        values = {str(k): v for k, v in dict(other, **kwargs).items()}
        if not allow_val_change:
            for key, value in values.items():
                if key in self._values and self._values[key] != value:
                    raise ConfigError(
                        f"config key {key!r} is {self._values[key]!r}; to change it to "
                        f"{value!r}, call config.update({{...}}, allow_val_change=True)"
                    )
        changed = {k: v for k, v in values.items() if k not in self._values or self._values[k] != v}
        if changed and self._on_change is not None:
            try:
                json.dumps(changed, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"run config must be JSON (no NaN, sets or objects): {exc}"
                ) from None
        self._values.update(values)
        if changed and self._on_change is not None:
            self._on_change({"update": changed})

    def setdefaults(self, defaults: Mapping[str, Any]) -> None:
        """Set the keys that have no value yet (W&B's ``config.setdefaults``)."""
        self.update({k: v for k, v in defaults.items() if k not in self._values})

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
        self.update({key: value})

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
