"""Where studies live, and the samplers and pruners they use.

Embedded by default: a study is an Optuna journal file (``NAME.journal``) in the
``studies`` folder of the user's data folder, which several local worker processes can
append to at once and which survives a restart (reopen it by name to continue). Given a
database URL (``postgresql://``, ``mysql://``, ``sqlite:///``) the study lives in that
database, so workers on several machines join it. ``postgresql://`` uses the psycopg 3
driver (a dependency), so a plain URL works without extra installs.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nets.errors import ConfigError, first_line
from nets.fileio import process_alive, shown, user_data_folder
from nets.search.space import Range, grid

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
STATES = ("COMPLETE", "PRUNED", "FAIL")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def studies_dir() -> Path:
    """``<user data folder>/studies`` (``BACKPROP_EXPLORER_STUDIES`` overrides it)."""
    return user_data_folder("studies", "BACKPROP_EXPLORER_STUDIES")


def check_study_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ConfigError(
            f"study name {name!r} must start with a letter or digit and use only letters, "
            "digits, '.', '_' and '-' (at most 100)"
        )
    return name


def is_url(location: str) -> bool:
    return "://" in location


def location_for(study: str, storage: str | None) -> str:
    """A storage URL as given, or the default journal file of ``study``."""
    check_study_name(study)
    if storage:
        return storage
    return str(studies_dir() / f"{study}.journal")


def _driver_url(url: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    if url.startswith("mysql://"):
        return "mysql+pymysql://" + url[len("mysql://") :]
    return url


def open_storage(location: str) -> Any:
    """An Optuna storage for a URL or a journal file path (its folder is created).

    Raises ConfigError in one line when the database cannot be reached or the file not
    written."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per created study
    if is_url(location):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    _driver_url(location),
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=20,
                    grace_period=60,
                )
        except Exception as exc:  # sqlalchemy/driver errors: many kinds, all one line here
            raise ConfigError(
                f"cannot open the study database {_hide_password(location)}: {first_line(exc)}"
            ) from None
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = Path(location)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
    except OSError as exc:
        raise ConfigError(f"cannot open the study file {shown(path)}: {exc.strerror}") from None
    return optuna.storages.JournalStorage(backend)


def _hide_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def make_sampler(name: str, space: Sequence[Range], seed: int | None = None) -> Any:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid(space), seed=seed)
    raise ConfigError(f"unknown sampler {name!r}: use {', '.join(SAMPLERS)}")


def make_pruner(name: str, max_epochs: int) -> Any:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 1))
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"unknown pruner {name!r}: use {', '.join(PRUNERS)}")


def open_study(
    study: str,
    location: str,
    *,
    sampler: Any = None,
    pruner: Any = None,
    create: bool = True,
    attrs: dict[str, Any] | None = None,
) -> Any:
    """Create or reopen the study (maximising validation accuracy).

    ``attrs`` (the trainer, data and space) are stored on creation; reopening a study of
    the other trainer is refused."""
    import optuna

    storage = open_storage(location)
    try:
        if create:
            s = optuna.create_study(
                study_name=study,
                storage=storage,
                direction="maximize",
                sampler=sampler,
                pruner=pruner,
                load_if_exists=True,
            )
        else:
            s = optuna.load_study(study_name=study, storage=storage, sampler=sampler, pruner=pruner)
    except KeyError:
        raise ConfigError(f"there is no study {study!r} in {_hide_password(location)}") from None
    if attrs:
        have = s.user_attrs
        kind = have.get("kind")
        if kind is not None and kind != attrs.get("kind"):
            raise ConfigError(
                f"study {study!r} searches the {kind} network, not the {attrs.get('kind')} one"
            )
        for key, value in attrs.items():
            if key not in have:
                s.set_user_attr(key, value)
    return s


def summary(study: Any) -> dict[str, Any]:
    """``{"study", "n_trials", "states": {COMPLETE, PRUNED, FAIL}, "best": {...} | None}``."""
    trials = study.get_trials(deepcopy=False)
    states = {name: 0 for name in STATES}
    for t in trials:
        if t.state.name in states:
            states[t.state.name] += 1
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    best = max(complete, key=lambda t: t.value, default=None)
    return {
        "study": study.study_name,
        "n_trials": len(trials),
        "states": states,
        "best": None
        if best is None
        else {"number": best.number, "value": best.value, "params": dict(best.params)},
    }


@dataclass(frozen=True)
class TrialRow:
    """One trial as the views show it (a plain copy of Optuna's ``FrozenTrial``).

    ``state`` is RUNNING, COMPLETE, PRUNED, FAIL or WAITING; ``value`` the final
    validation accuracy (COMPLETE only); ``intermediate`` maps epoch -> validation
    accuracy; ``attrs`` the user attributes (``nets.search.objective``); ``seconds``
    the trial's duration so far; ``started`` its start (seconds since the epoch).
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    attrs: dict[str, Any]
    intermediate: dict[int, float]
    seconds: float | None
    started: float | None

    @property
    def message(self) -> str:
        return str(self.attrs.get("error") or self.attrs.get("note") or "")

    @property
    def last_val(self) -> float | None:
        """The value if complete, else the last reported epoch's accuracy."""
        if self.value is not None:
            return self.value
        if self.intermediate:
            return self.intermediate[max(self.intermediate)]
        return None


def trial_rows(study: Any) -> list[TrialRow]:
    """Every trial of ``study`` now, in number order."""
    now = time.time()
    rows = []
    for t in study.get_trials(deepcopy=False):
        start = t.datetime_start.timestamp() if t.datetime_start else None
        end = t.datetime_complete.timestamp() if t.datetime_complete else None
        seconds = None if start is None else (end if end is not None else now) - start
        rows.append(
            TrialRow(
                t.number,
                t.state.name,
                t.value if t.state.name == "COMPLETE" else None,
                dict(t.params),
                dict(t.user_attrs),
                {int(k): float(v) for k, v in t.intermediate_values.items()},
                seconds,
                start,
            )
        )
    return sorted(rows, key=lambda r: r.number)


def fail_orphans(study: Any) -> int:
    """Mark FAIL the RUNNING trials whose worker process (on this machine) is gone: one
    killed outright (SIGKILL, a crash) cannot record its end. Trials of other machines
    are left alone. Returns how many were marked."""
    import socket

    from optuna.trial import TrialState

    host = socket.gethostname()
    marked = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        where, _, pid = str(t.user_attrs.get("worker", "")).rpartition(":")
        if where != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        try:
            study._storage.set_trial_user_attr(
                t._trial_id, "error", "its worker process ended without recording the trial"
            )
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            marked += 1
        except Exception:  # another process got there first
            continue
    return marked
