"""The coach: rules over a run's event stream that say, in plain words, what is going wrong.

``Coach.observe(event)`` takes the ``nets.training`` events of one run in order and returns
the ``Advice`` findings that event triggered; ``coached(events)`` wraps a training
generator so that findings come out as events too (after the event that triggered them,
before the final one). Each rule fires at most once per run (per layer for the layer
rules). Rule ids, which the GUI and the JSON log use:

- ``diverging``: the loss jumps an order of magnitude above its lowest value and above
  twice where it started, or the smoothed loss rises on every one of 20 steps by half;
  fires before the trainer's divergence stop (which needs a NaN or inf);
- ``stuck_at_chance``: after 300 steps the smoothed loss is within 3% of ln(classes);
- ``update_ratio``: a layer's ||ΔW|| / ||W|| stays above 1e-2 or below 1e-5 for 5 samples
  while the smoothed loss falls by less than 10% (and, for low ratios, the schedule has
  not annealed the learning rate below a hundredth of its peak on purpose);
- ``dead_relu``: more than half of a ReLU layer's units were dead in 2 samples in a row;
- ``vanishing_gradient`` / ``exploding_gradient``: the first layer's weight gradient is
  1e3 times smaller / larger than the last layer's in 2 samples in a row, or (exploding)
  the largest gradient norm has grown 1e4-fold since the first sample;
- ``overfitting``: train minus validation accuracy passes 15 points while the validation
  accuracy fell at two end-of-epoch evaluations in a row;
- ``underfitting``: training accuracy gained under a point over two epochs while far from
  fitting (below 90%, no train-validation gap) with a low learning rate or a strong
  regularisation;
- ``non_finite``: a sample found a NaN or inf; names the first layer and what held it;
- ``unnormalised_input``: the input batches' mean is beyond +-1 or their standard
  deviation outside 0.2-5.

``suggest`` uses the configuration field names of the run's trainer (``learning_rate``,
``reg``, ``weight_scale``, ``num_epochs`` for the numpy net; ``lr``, ``weight_decay``,
``optimizer``, ``epochs`` for the CNN), so a form can apply it to a new run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from nets.training import (
    END_EVENTS,
    Advice,
    Diverged,
    Evaluation,
    Internals,
    Started,
    Step,
)

RULES = (
    "diverging",
    "stuck_at_chance",
    "update_ratio",
    "dead_relu",
    "vanishing_gradient",
    "exploding_gradient",
    "overfitting",
    "underfitting",
    "non_finite",
    "unnormalised_input",
)

#: Thresholds the rules use (see the module docstring).
CHANCE_AFTER_STEPS = 300
CHANCE_TOLERANCE = 0.03
RATIO_HIGH, RATIO_LOW, RATIO_SAMPLES = 1e-2, 1e-5, 5
DEAD_FRACTION, DEAD_SAMPLES = 0.5, 2
GRADIENT_SPREAD, GRADIENT_GROWTH, GRADIENT_SAMPLES = 1e3, 1e4, 2
OVERFIT_GAP = 0.15
UNDERFIT_TRAIN_ACC, UNDERFIT_GAIN = 0.9, 0.01

_FIELDS = {
    "mlp": {"lr": "learning_rate", "reg": "reg", "epochs": "num_epochs"},
    "cnn": {"lr": "lr", "reg": "weight_decay", "epochs": "epochs"},
}


def _nice(x: float) -> float:
    """x rounded to two significant digits (suggested values read better)."""
    return float(f"{x:.2g}")


class Coach:
    """Evaluates every rule on one run's events; ``observe`` returns new findings."""

    def __init__(self) -> None:
        self.trainer = "mlp"
        self.config: Any = None
        self.num_classes = 10
        self.findings: list[Advice] = []
        self._fired: set[tuple[str, str]] = set()
        self._step = 0
        self._first_loss = math.nan
        self._min_loss = math.inf
        self._ema = math.nan
        self._ema_slow = math.nan
        self._steps_seen = 0
        self._ema_history: list[float] = []
        self._last_loss = math.nan
        self._ratio_runs: dict[str, int] = {}
        self._ratio_start: dict[str, float] = {}  # smoothed loss where a stretch began
        self._lr = math.nan
        self._peak_lr = 0.0
        self._dead_runs: dict[str, int] = {}
        self._spread_runs = {"vanishing_gradient": 0, "exploding_gradient": 0}
        self._first_grad = math.nan
        self._evals: list[Evaluation] = []

    # -- helpers ---------------------------------------------------------------------

    def _field(self, what: str) -> str:
        return _FIELDS.get(self.trainer, _FIELDS["mlp"])[what]

    def _value(self, what: str, default: float = math.nan) -> float:
        value = getattr(self.config, self._field(what), None)
        return float(value) if isinstance(value, (int, float)) else default

    def _lr_times(self, factor: float) -> dict[str, Any]:
        lr = self._value("lr")
        return {self._field("lr"): _nice(lr * factor)} if math.isfinite(lr) else {}

    def _fire(
        self,
        rule: str,
        step: int,
        evidence: dict[str, Any],
        message: str,
        suggest: dict[str, Any],
        key: str = "",
    ) -> list[Advice]:
        if (rule, key) in self._fired:
            return []
        self._fired.add((rule, key))
        advice = Advice(rule, step, evidence, message, suggest)
        self.findings.append(advice)
        return [advice]

    # -- the stream ------------------------------------------------------------------

    def observe(self, event: Any) -> list[Advice]:
        """Findings triggered by ``event`` (often none)."""
        if isinstance(event, Started):
            self.trainer, self.config, self.num_classes = (
                event.trainer,
                event.config,
                event.num_classes,
            )
            return []
        if isinstance(event, Step):
            return self._on_step(event)
        if isinstance(event, Evaluation):
            return self._on_evaluation(event)
        if isinstance(event, Internals):
            return self._on_internals(event)
        if isinstance(event, Diverged):
            return self._on_diverged(event)
        return []

    # -- loss rules ------------------------------------------------------------------

    def _on_step(self, event: Step) -> list[Advice]:
        loss = event.loss
        self._step = event.step
        self._lr = event.lr
        self._peak_lr = max(self._peak_lr, event.lr)
        if not math.isfinite(loss):
            return []
        self._steps_seen += 1
        if self._steps_seen == 1:
            self._first_loss = loss
            self._ema = self._ema_slow = loss
        self._ema = 0.9 * self._ema + 0.1 * loss
        self._ema_slow = 0.98 * self._ema_slow + 0.02 * loss
        self._ema_history = (self._ema_history + [self._ema])[-21:]
        found = self._diverging(event, loss)
        self._min_loss = min(self._min_loss, loss)
        self._last_loss = loss
        found += self._stuck(event)
        return found

    def _diverging(self, event: Step, loss: float) -> list[Advice]:
        lr = self._value("lr")
        jump = self._steps_seen >= 2 and loss > 2 * self._first_loss and loss > 10 * self._min_loss
        history = self._ema_history
        steady = (
            len(history) == 21
            and all(b > a for a, b in zip(history, history[1:], strict=False))
            and history[-1] > 1.5 * history[0]
            and history[-1] > self._first_loss
        )
        if not (jump or steady):
            return []
        if jump:
            evidence = {"curve": "loss", "loss": loss, "lowest_loss": self._min_loss}
            what = (
                f"the loss jumped to {loss:.4g} at step {event.step}, "
                f"{loss / self._min_loss:.0f} times its lowest value so far ({self._min_loss:.3g})"
            )
        else:
            evidence = {"curve": "loss", "smoothed_from": history[0], "smoothed_to": history[-1]}
            what = (
                f"the smoothed loss rose on each of the last 20 steps, from {history[0]:.3g} to "
                f"{history[-1]:.3g}"
            )
        return self._fire(
            "diverging",
            event.step,
            evidence,
            f"Training is diverging: {what}. The steps overshoot the minimum and each one "
            f"makes things worse; the learning rate ({lr:g}) is probably too high: try a "
            "tenth of it.",
            self._lr_times(0.1),
        )

    def _stuck(self, event: Step) -> list[Advice]:
        chance = math.log(self.num_classes) if self.num_classes > 1 else math.nan
        if self._steps_seen < CHANCE_AFTER_STEPS or not math.isfinite(chance):
            return []
        if abs(self._ema_slow - chance) > CHANCE_TOLERANCE * chance:
            return []
        suggest = self._lr_times(10)
        scale = getattr(self.config, "weight_scale", None)
        if self.trainer == "mlp" and isinstance(scale, float) and scale < 1e-2:
            suggest["weight_scale"] = 1e-2
        return self._fire(
            "stuck_at_chance",
            event.step,
            {"curve": "loss", "smoothed_loss": self._ema_slow, "chance_loss": chance},
            f"After {self._steps_seen} steps the smoothed loss is {self._ema_slow:.3f}, within "
            f"{CHANCE_TOLERANCE:.0%} of ln({self.num_classes}) = {chance:.3f}, the loss of "
            "guessing every class equally: the network has learned nothing yet. The learning "
            f"rate ({self._value('lr'):g}) is probably too low, or the initial weights too "
            "small for any signal to get through.",
            suggest,
        )

    def _on_diverged(self, event: Diverged) -> list[Advice]:
        return self._fire(
            "diverging",
            event.step,
            {"curve": "loss", "loss": event.loss, "last_finite_loss": event.last_finite_loss},
            f"Training diverged at step {event.step}: the loss became {event.loss} (the last "
            f"finite loss was {event.last_finite_loss:.4g}). The learning rate "
            f"({self._value('lr'):g}) is probably too high: try a tenth of it.",
            self._lr_times(0.1),
        )

    # -- accuracy rules --------------------------------------------------------------

    def _on_evaluation(self, event: Evaluation) -> list[Advice]:
        if not event.end_of_epoch:
            return []
        self._evals.append(event)
        return self._overfitting(event) + self._underfitting(event)

    def _overfitting(self, event: Evaluation) -> list[Advice]:
        evals = self._evals
        if len(evals) < 3:
            return []
        gap = event.train_acc - event.val_acc
        falling = evals[-1].val_acc < evals[-2].val_acc < evals[-3].val_acc
        if not (gap > OVERFIT_GAP and falling):
            return []
        best = max(evals, key=lambda e: e.val_acc)
        reg = self._value("reg", 0.0)
        suggest = {self._field("reg"): _nice(reg * 10) if reg > 0 else 1e-3}
        suggest[self._field("epochs")] = best.epoch
        return self._fire(
            "overfitting",
            event.step,
            {
                "curve": "val_acc",
                "train_acc": event.train_acc,
                "val_acc": event.val_acc,
                "best_val_acc": best.val_acc,
                "best_epoch": best.epoch,
            },
            f"Overfitting: training accuracy is {event.train_acc:.1%} but validation accuracy "
            f"{event.val_acc:.1%} ({gap * 100:.0f} points lower), and validation accuracy fell "
            f"at the last two epochs (best {best.val_acc:.1%} after epoch {best.epoch}). The "
            "network is memorising the training images instead of learning what generalises: "
            "regularise more, or stop at the best epoch.",
            suggest,
        )

    def _underfitting(self, event: Evaluation) -> list[Advice]:
        evals = self._evals
        if len(evals) < 3:
            return []
        gain = event.train_acc - evals[-3].train_acc
        gap = event.train_acc - event.val_acc
        if not (event.train_acc < UNDERFIT_TRAIN_ACC and gain < UNDERFIT_GAIN and gap < 0.05):
            return []
        lr, reg = self._value("lr"), self._value("reg", 0.0)
        optimizer = getattr(self.config, "optimizer", "sgd")
        low_lr = lr < (1e-4 if optimizer in ("adam", "adamw") else 1e-3)
        # AdamW's decay is decoupled (each step shrinks the weights by lr * decay, not by
        # the gradient of an L2 term), so its usual values (0.01 to 0.1) are mild.
        strong = 0.5 if optimizer == "adamw" else 0.05 if self.trainer == "cnn" else 0.1
        high_reg = reg >= strong
        if not (low_lr or high_reg):
            return []
        causes, suggest = [], {}
        if low_lr:
            causes.append(f"the learning rate ({lr:g}) is low")
            suggest.update(self._lr_times(10))
        if high_reg:
            causes.append(f"the regularisation ({reg:g}) is strong")
            suggest[self._field("reg")] = _nice(reg / 10)
        return self._fire(
            "underfitting",
            event.step,
            {"curve": "train_acc", "train_acc": event.train_acc, "gain_two_epochs": gain},
            f"Underfitting: training accuracy has plateaued at {event.train_acc:.1%} (it gained "
            f"{gain * 100:.1f} points over the last two epochs) and validation accuracy is as "
            f"high, so the network is not even fitting the training images, and "
            f"{' and '.join(causes)}.",
            suggest,
        )

    # -- internals rules -------------------------------------------------------------

    def _on_internals(self, event: Internals) -> list[Advice]:
        found: list[Advice] = []
        found += self._non_finite(event)
        found += self._input(event)
        found += self._update_ratio(event)
        found += self._dead(event)
        found += self._gradients(event)
        return found

    def _non_finite(self, event: Internals) -> list[Advice]:
        if event.non_finite is None:
            return []
        layer, what = event.non_finite
        return self._fire(
            "non_finite",
            event.step,
            {"curve": "loss", "layer": layer, "what": what},
            f"A NaN or inf appeared at step {event.step}, first in the {what} of layer "
            f"{layer}. Once one value is not finite, every layer after it (and every gradient "
            "before it) follows. Usually the learning rate is too high, so the weights grew "
            "until they overflowed: try a tenth of it.",
            self._lr_times(0.1),
        )

    def _input(self, event: Internals) -> list[Advice]:
        mean, std = event.input_mean, event.input_std
        if not (math.isfinite(mean) and math.isfinite(std)):
            return []
        if abs(mean) <= 1.0 and 0.2 <= std <= 5.0:
            return []
        return self._fire(
            "unnormalised_input",
            event.step,
            {"curve": "input", "input_mean": mean, "input_std": std},
            f"The input batches have mean {mean:.3g} and standard deviation {std:.3g}, far "
            "from 0 and 1. With inputs that large (or small) the first layer's outputs and "
            "gradients are too, and one learning rate cannot suit every layer: subtract the "
            "mean and divide by the standard deviation of the training images.",
            {},
        )

    def _update_ratio(self, event: Internals) -> list[Advice]:
        """Out of range for RATIO_SAMPLES samples while the smoothed loss fell by less than
        10% over the stretch (large steps that make progress, as in a one-cycle peak, are
        fine), and for low ratios, not because a schedule annealed the rate on purpose."""
        found: list[Advice] = []
        annealed = self._peak_lr > 0 and self._lr < self._peak_lr / 100
        for name, entry in event.layers.items():
            ratio = entry.get("weight_update_ratio")
            if entry.get("kind") not in ("linear", "conv") or ratio is None:
                continue
            bad = math.isfinite(ratio) and not RATIO_LOW <= ratio <= RATIO_HIGH
            runs = self._ratio_runs.get(name, 0) + 1 if bad else 0
            self._ratio_runs[name] = runs
            if runs == 1:
                self._ratio_start[name] = self._ema
            high = ratio > RATIO_HIGH
            started = self._ratio_start.get(name, math.nan)
            progress = math.isfinite(started) and self._ema < 0.9 * started
            if runs < RATIO_SAMPLES or progress or (annealed and not high):
                continue
            found += self._fire(
                "update_ratio",
                event.step,
                {"curve": "update_ratio", "layer": name, "ratio": ratio},
                f"Layer {name}'s update-to-weight ratio ||ΔW||/||W|| has been "
                f"{'above 1e-2' if high else 'below 1e-5'} for {runs} samples in a row (now "
                f"{ratio:.2g}; about 1e-3 is healthy) while the loss hardly fell: each step "
                + (
                    "rewrites a large part of the weights, so the steps overshoot. Try a "
                    "learning rate ten times smaller."
                    if high
                    else "barely moves the weights, so learning crawls. Try a learning rate "
                    "ten times larger."
                ),
                self._lr_times(0.1 if high else 10),
                key=name,
            )
        return found

    def _dead(self, event: Internals) -> list[Advice]:
        found: list[Advice] = []
        for name, entry in event.layers.items():
            dead = entry.get("dead_fraction")
            if dead is None:
                continue
            self._dead_runs[name] = self._dead_runs.get(name, 0) + 1 if dead > DEAD_FRACTION else 0
            if self._dead_runs[name] < DEAD_SAMPLES:
                continue
            found += self._fire(
                "dead_relu",
                event.step,
                {"curve": "dead_relu", "layer": name, "dead_fraction": dead},
                f"{dead:.0%} of the units of {name} are dead: they output 0 for every example of "
                f"the last {entry.get('dead_window', 1)} batches, so no gradient flows through "
                "them and they can never recover. A too-high learning rate (one big step pushes "
                "their inputs negative for good) or a bad initialisation does this: try a "
                "smaller learning rate.",
                self._lr_times(0.1),
                key=name,
            )
        return found

    def _gradients(self, event: Internals) -> list[Advice]:
        norms = [
            (name, e["weight_grad_norm"])
            for name, e in event.layers.items()
            if e.get("kind") in ("linear", "conv") and "weight_grad_norm" in e
        ]
        norms = [(n, g) for n, g in norms if math.isfinite(g)]
        if not norms:
            return []
        biggest = max(g for _, g in norms)
        if math.isnan(self._first_grad):
            self._first_grad = biggest
        found: list[Advice] = []
        if len(norms) >= 2:
            (first, g_first), (last, g_last) = norms[0], norms[-1]
            spread = g_first / g_last if g_last > 0 else math.inf
            for rule, bad in (
                ("vanishing_gradient", spread < 1 / GRADIENT_SPREAD),
                ("exploding_gradient", spread > GRADIENT_SPREAD),
            ):
                self._spread_runs[rule] = self._spread_runs[rule] + 1 if bad else 0
                if self._spread_runs[rule] < GRADIENT_SAMPLES:
                    continue
                found += self._spread_advice(rule, event, first, g_first, last, g_last)
        if self._first_grad > 0 and biggest > GRADIENT_GROWTH * self._first_grad:
            found += self._fire(
                "exploding_gradient",
                event.step,
                {"curve": "grad_norm", "grad_norm": biggest, "first_grad_norm": self._first_grad},
                f"The gradient norms have grown {biggest / self._first_grad:.0f}-fold since the "
                f"first sample (now {biggest:.3g}): the gradients are exploding, which ends in "
                "a divergence. Try a tenth of the learning rate.",
                self._lr_times(0.1),
            )
        return found

    def _spread_advice(
        self, rule: str, event: Internals, first: str, g_first: float, last: str, g_last: float
    ) -> list[Advice]:
        evidence = {
            "curve": "grad_norm",
            "layer": first,
            "first_layer": first,
            "first_grad_norm": g_first,
            "last_layer": last,
            "last_grad_norm": g_last,
        }
        numbers = f"{first}'s weight gradient norm is {g_first:.3g}, {last}'s {g_last:.3g}"
        if rule == "vanishing_gradient":
            optimizer = getattr(self.config, "optimizer", None)
            if self.trainer == "cnn" and optimizer not in ("adam", "adamw"):
                suggest: dict[str, Any] = {"optimizer": "adam"}
            elif self.trainer == "mlp":
                suggest = {"weight_scale": 1e-2}
            else:
                suggest = {}
            message = (
                f"Vanishing gradient: {numbers}, over {GRADIENT_SPREAD:.0e} times smaller in the "
                "first layer. Each layer shrinks the gradient on its way back, so the early "
                "layers barely learn. Fewer layers, BatchNorm between them, a larger "
                "initialisation or an adaptive optimizer (Adam) help."
            )
        else:
            suggest = self._lr_times(0.1)
            message = (
                f"Exploding gradient: {numbers}, over {GRADIENT_SPREAD:.0e} times larger in the "
                "first layer. Each layer amplifies the gradient on its way back, so the early "
                "layers take huge steps. Try a smaller learning rate (and BatchNorm)."
            )
        return self._fire(rule, event.step, evidence, message, suggest)


def coached(events: Iterator[Any], coach: Coach | None = None) -> Iterator[Any]:
    """The events of ``events`` with the coach's Advice events added: after the event that
    triggered them, or just before the final event (which stays last)."""
    coach = coach or Coach()
    try:
        for event in events:
            advice = coach.observe(event)
            if isinstance(event, END_EVENTS):
                yield from advice
                yield event
            else:
                yield event
                yield from advice
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # a consumer closing us stops the training generator now, not at GC


def advice_to_json(advice: Advice) -> dict[str, Any]:
    """``{"event": "advice", "rule", "step", "message", "evidence", "suggest"}``."""
    from nets.internals import plain

    return {
        "event": "advice",
        "rule": advice.rule,
        "step": advice.step,
        "message": advice.message,
        "evidence": plain(advice.evidence),
        "suggest": plain(advice.suggest),
    }
