"""The Classify lab on the command line: ``classify ... --explain`` and ``--attack``.

``nets.pretrained.cli`` parses and classifies; for each photo it classified, ``Lab.run``
adds what was asked for to the photo's JSON entry:

- ``--explain METHOD [--target CLASS] [--save-map DIR]``: ``"explain": {"method",
  "target", "target_label", "delta", "score", "seconds", "file"}`` (``delta``: Integrated
  Gradients' convergence delta, else null; ``file``: the map saved over the model's
  input, when ``--save-map`` is given, else null). Without ``--target`` the photo's own
  top-1 class is explained.
- ``--attack fgsm|pgd --epsilon E [--steps N] [--step-size E] [--target CLASS]
  [--save-adv DIR]``: ``"attack": {"method", "epsilon", "before", "after", "flipped",
  "reached_target", "file", ...}``. ``after`` is the model's top-k on the adversarial
  PNG decoded again (from the saved file with ``--save-adv``, else from the same bytes in
  memory): the 8-bit round trip is part of the result.

A failure on one photo becomes that photo's ``"error"`` and the others go on.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nets.errors import ConfigError, NetsError
from nets.fileio import shown
from nets.pretrained.adversarial import ATTACKS, AttackSettings, parse_epsilon
from nets.pretrained.attribution import METHODS, AttributionSettings

if TYPE_CHECKING:
    from nets.pretrained.classify import ClassifyResult, PretrainedModel


def _epsilon(text: str) -> float:
    try:
        return parse_epsilon(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(name: str, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, not {text!r}"
            ) from None
        if not 1 <= value <= high:
            raise argparse.ArgumentTypeError(f"{name} must be between 1 and {high}, not {value}")
        return value

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The lab's options on the ``classify`` parser."""
    lab = p.add_argument_group("attributions and adversarial examples")
    lab.add_argument(
        "--explain",
        choices=tuple(METHODS),
        metavar="METHOD",
        help=f"explain a class with one of: {', '.join(METHODS)}",
    )
    lab.add_argument(
        "--target",
        metavar="CLASS",
        help="the class to explain or to attack towards: its number or (part of) its name",
    )
    lab.add_argument("--save-map", metavar="DIR", help="save each map (PNG) into DIR")
    lab.add_argument(
        "--ig-steps",
        type=_positive("--ig-steps", 1024),
        default=32,
        metavar="N",
        help="Integrated Gradients steps (default: 32)",
    )
    lab.add_argument(
        "--occlusion-window",
        type=_positive("--occlusion-window", 512),
        default=32,
        metavar="PX",
        help="occlusion square side in input pixels (default: 32)",
    )
    lab.add_argument(
        "--occlusion-stride",
        type=_positive("--occlusion-stride", 512),
        default=16,
        metavar="PX",
        help="occlusion stride in input pixels (default: 16)",
    )
    lab.add_argument("--attack", choices=ATTACKS, help="make an adversarial example: fgsm or pgd")
    lab.add_argument(
        "--epsilon",
        type=_epsilon,
        default=2 / 255,
        metavar="E",
        help="largest change per pixel, e.g. 2/255 or 0.008 (1/255..16/255; default 2/255)",
    )
    lab.add_argument(
        "--steps",
        type=_positive("--steps", 1000),
        default=10,
        metavar="N",
        help="PGD steps (default: 10)",
    )
    lab.add_argument(
        "--step-size",
        type=_epsilon,
        metavar="E",
        help="PGD step size (default: about 2.5 * epsilon / steps, whole 8-bit levels)",
    )
    lab.add_argument(
        "--save-adv", metavar="DIR", help="save each adversarial image (lossless PNG) into DIR"
    )


def _output_dir(text: str | None, flag: str) -> Path | None:
    if text is None:
        return None
    from nets.errors import ImageError
    from nets.fileio import check_writable

    folder = Path(text).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{flag} {text}: not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{flag} {text}: cannot create the folder ({exc.strerror})") from None
    check_writable(folder / ".probe.png", ImageError, "write into")
    return folder


def _stem(path: str) -> str:
    return re.sub(r"[^\w.-]+", "_", Path(path).stem).strip("._") or "image"


@dataclass
class Lab:
    """The lab options of one ``classify`` run, checked (see the module docstring)."""

    explain: str | None = None
    attack: AttackSettings | None = None
    target: int | None = None
    save_map: Path | None = None
    save_adv: Path | None = None
    settings: AttributionSettings = field(default_factory=AttributionSettings)
    taken: set[str] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return self.explain is not None or self.attack is not None

    @staticmethod
    def from_args(args: argparse.Namespace) -> Lab:
        """Check the options before any model is loaded; ConfigError with one line if bad."""
        explain = getattr(args, "explain", None)
        method = getattr(args, "attack", None)
        if getattr(args, "save_map", None) and explain is None:
            raise ConfigError("--save-map needs --explain METHOD")
        if getattr(args, "save_adv", None) and method is None:
            raise ConfigError("--save-adv needs --attack fgsm|pgd")
        target = None
        if getattr(args, "target", None) is not None:
            if explain is None and method is None:
                raise ConfigError("--target needs --explain or --attack")
            from nets.pretrained.attribution import find_class
            from nets.pretrained.labels import imagenet_labels

            target = find_class(imagenet_labels(), args.target)
        attack = None
        if method is not None:
            attack = AttackSettings(
                method=method,
                epsilon=args.epsilon,
                steps=args.steps,
                step_size=args.step_size,
                target=target,
            )
            attack.check()
        settings = AttributionSettings(
            ig_steps=getattr(args, "ig_steps", 32),
            occlusion_window=getattr(args, "occlusion_window", 32),
            occlusion_stride=getattr(args, "occlusion_stride", 16),
        )
        settings.check()
        return Lab(
            explain=explain,
            attack=attack,
            target=target,
            save_map=_output_dir(getattr(args, "save_map", None), "--save-map"),
            save_adv=_output_dir(getattr(args, "save_adv", None), "--save-adv"),
            settings=settings,
        )

    def _name(self, path: str, suffix: str) -> str:
        candidate = f"{_stem(path)}_{suffix}.png"
        counter = 2
        while candidate in self.taken:
            candidate = f"{_stem(path)}_{suffix}_{counter}.png"
            counter += 1
        self.taken.add(candidate)
        return candidate

    def run(self, model: PretrainedModel, result: ClassifyResult, entry: dict) -> dict:
        """``entry`` with the lab's parts added, or with an ``"error"`` if one failed."""
        try:
            if self.explain is not None:
                entry["explain"] = self._explain(model, result)
            if self.attack is not None:
                entry["attack"] = self._attack(model, result)
        except NetsError as exc:
            return {"path": shown(result.path), "error": f"{shown(result.path)}: {exc}"}
        except Exception as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            where = shown(result.path)
            return {"path": where, "error": f"{where}: the lab failed ({detail})"}
        return entry

    def _explain(self, model: PretrainedModel, result: ClassifyResult) -> dict[str, Any]:
        from nets.errors import ImageError
        from nets.images import save_png
        from nets.pretrained.attribution import explain, overlay

        assert result.image is not None and result.top is not None and self.explain
        target = self.target if self.target is not None else result.top[0].index
        found = explain(model, result.image, self.explain, target, self.settings)
        file = None
        if self.save_map is not None:
            picture = overlay(model.pixels(result.image), found.heat)
            path = self.save_map / self._name(result.path, self.explain)
            save_png(path, picture, ImageError)
            file = os.fspath(path)
        return {
            "method": self.explain,
            "target": target,
            "target_label": model.labels[target],
            "delta": found.delta,
            "score": found.score,
            "seconds": round(found.seconds, 4),
            "file": file,
        }

    def _attack(self, model: PretrainedModel, result: ClassifyResult) -> dict[str, Any]:
        from nets.errors import ImageError
        from nets.fileio import atomic_write_bytes
        from nets.images import open_image
        from nets.pretrained.adversarial import adversarial_photo, attack, png_bytes

        assert result.image is not None and self.attack is not None
        found = attack(model, result.image, self.attack, topk=len(result.top or ()) or 5)
        assert found is not None  # no cancel given
        data = png_bytes(adversarial_photo(model, result.image, found))
        file = None
        if self.save_adv is not None:
            levels = round(found.epsilon * 255)
            path = self.save_adv / self._name(result.path, f"{found.method}_eps{levels}")
            file = os.fspath(atomic_write_bytes(path, data, ImageError))
            reread = open_image(file, min_size=model.preprocessing.resize)
        else:
            reread = open_image(data, name=result.path, min_size=model.preprocessing.resize)
        # Judged on the decoded PNG, through the model's whole input pipeline.
        after = model.predict(reread, len(found.after.top))
        return dataclasses.replace(found, after=after).as_dict(file)

    def describe(self, entry: dict) -> list[str]:
        """The text output's extra lines for one entry."""
        lines = []
        explained = entry.get("explain")
        if explained:
            line = f"{METHODS[explained['method']][0]} of {explained['target_label']}"
            if explained["delta"] is not None:
                line += f" (convergence delta {explained['delta']:+.4f})"
            if explained["file"]:
                line += f": {explained['file']}"
            lines.append(line)
        attacked = entry.get("attack")
        if attacked:
            before, after = attacked["before"][0], attacked["after"][0]
            verdict = "flipped" if attacked["flipped"] else "not flipped"
            if attacked["target"] is not None:
                verdict += ", target reached" if attacked["reached_target"] else ", target missed"
            line = (
                f"{attacked['method'].upper()} eps {attacked['epsilon_levels']}/255: "
                f"{before['label']} -> {after['label']} ({100 * after['prob']:.1f}%), {verdict}"
            )
            if attacked["file"]:
                line += f": {attacked['file']}"
            lines.append(line)
        return lines
