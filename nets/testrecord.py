"""The test-once record both checkpoint formats carry (.npz for the numpy net, .pt for the CNN).

The seed asks for one evaluation on the test split, after the model is chosen. Each test
run is recorded in the checkpoint file, so a second one warns, even after a restart.
Times are UTC (ISO 8601 with ``+00:00``), the same whichever machine or CLI tested.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any


def utc_now() -> str:
    """The current time as ISO 8601 UTC to the second, e.g. ``2026-12-01T09:15:00+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TestRecord:
    """Whether (and how often) the model has been evaluated on a test split.

    ``count`` is the number of test evaluations, ``test_acc`` (a fraction) and ``n`` (the
    number of test images) those of the last one, ``dataset`` its data spec and ``when``
    its UTC time.
    """

    __test__ = False  # not a pytest test class despite the name

    used: bool = False
    count: int = 0
    test_acc: float | None = None
    n: int | None = None
    dataset: str = ""
    when: str = ""

    def tested(self, test_acc: float, n: int, dataset: str = "") -> TestRecord:
        """The record after one more test evaluation, timed now."""
        return TestRecord(
            used=True,
            count=self.count + 1,
            test_acc=float(test_acc),
            n=int(n),
            dataset=dataset or self.dataset,
            when=utc_now(),
        )

    def warning(self) -> str:
        """One line for a second test ("" for a model never tested)."""
        if not self.used:
            return ""
        acc = f", accuracy {100 * self.test_acc:.2f}%" if self.test_acc is not None else ""
        on = f" on {self.n:,} images" if self.n and self.test_acc is not None else ""
        when = f", last {self.when}" if self.when else ""
        return (
            f"this checkpoint was already evaluated on a test set ({self.count} time(s){when}"
            f"{acc}{on}); the seed asks for exactly one test evaluation, so this result must "
            "not guide tuning"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a checkpoint's metadata."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> TestRecord:
        """Read a record from a checkpoint, tolerant of older files and damaged values.

        Older .npz files count the evaluations in ``runs``; a value of the wrong type
        reads as absent rather than refusing the whole checkpoint.
        """
        if not isinstance(data, Mapping):
            return cls()
        count = data.get("count", data.get("runs", 0))
        acc = data.get("test_acc")
        n = data.get("n")
        return cls(
            used=bool(data.get("used", False)),
            count=count if isinstance(count, int) and count >= 0 else 0,
            test_acc=float(acc)
            if isinstance(acc, (int, float)) and not isinstance(acc, bool) and math.isfinite(acc)
            else None,
            n=n if isinstance(n, int) and not isinstance(n, bool) else None,
            dataset=str(data.get("dataset", "") or ""),
            when=str(data.get("when", "") or ""),
        )
