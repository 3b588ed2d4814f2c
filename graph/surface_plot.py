"""Draw a :class:`graph.surface.Surface` to a PNG with matplotlib (Agg, imported lazily).

One input: the curve with the tangent at the current point. Two inputs: a shaded height
map with contour lines, the gradient arrow at the current point and nan/inf regions
hatched grey as undefined.
"""

from __future__ import annotations

import io

import numpy as np

from graph.surface import Surface


def render_png(
    surf: Surface,
    names: dict[str, str],
    point: tuple[float, ...],
    value: float,
    grad: tuple[float, ...],
    title: str = "",
) -> bytes:
    """PNG bytes of the plot. ``point``/``grad`` are the current input values and dL/dinput
    (one or two numbers), ``value`` the output there; ``names`` maps ids to names."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    out = names[surf.output]
    finite = np.isfinite(surf.z)
    if surf.y is None:
        ax.plot(surf.xs, np.where(finite, surf.z, np.nan), color="#1f63c6", label=out)
        x0, slope = point[0], grad[0]
        span = (surf.xs[-1] - surf.xs[0]) * 0.25
        tx = np.array([x0 - span, x0 + span])
        ax.plot(tx, value + slope * (tx - x0), color="#c2570c", label=f"tangent, slope {slope:.4g}")
        ax.plot([x0], [value], "o", color="#c2570c")
        for lo, hi in _runs(~finite, surf.xs):
            ax.axvspan(lo, hi, color="#bbbbbb", alpha=0.5, hatch="//", lw=0)
        ax.set_xlabel(names[surf.x])
        ax.set_ylabel(out)
        ax.legend(loc="best")
    else:
        assert surf.ys is not None
        z = np.ma.masked_invalid(surf.z)
        extent = (surf.xs[0], surf.xs[-1], surf.ys[0], surf.ys[-1])
        if z.count():
            im = ax.imshow(z, origin="lower", extent=extent, aspect="auto", cmap="viridis")
            fig.colorbar(im, ax=ax, label=out)
            if z.count() > 4 and float(z.max() - z.min()) > 0:
                ax.contour(surf.xs, surf.ys, z, levels=12, colors="white", linewidths=0.7)
        if (~finite).any():
            ax.contourf(
                surf.xs,
                surf.ys,
                (~finite).astype(float),
                levels=[0.5, 1.5],
                colors="none",
                hatches=["//"],
            )
        gx, gy = grad
        length = float(np.hypot(gx, gy))
        if length > 0 and np.isfinite(length):
            scale = 0.15 * min(extent[1] - extent[0], extent[3] - extent[2]) / length
            ax.annotate(
                "",
                xy=(point[0] + gx * scale, point[1] + gy * scale),
                xytext=(point[0], point[1]),
                arrowprops={"arrowstyle": "->", "color": "#c2570c", "lw": 2},
            )
        ax.plot([point[0]], [point[1]], "o", color="#c2570c")
        ax.set_xlabel(names[surf.x])
        ax.set_ylabel(names[surf.y])
    ax.set_title(title or f"{out} over {', '.join(names[i] for i in (surf.x, surf.y) if i)}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _runs(mask: np.ndarray, xs: np.ndarray) -> list[tuple[float, float]]:
    """The x intervals where ``mask`` is true (for shading undefined regions)."""
    runs = []
    start = None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if (not m or i == len(mask) - 1) and start is not None:
            end = i if m else i - 1
            runs.append((float(xs[start]), float(xs[end])))
            start = None
    return runs
