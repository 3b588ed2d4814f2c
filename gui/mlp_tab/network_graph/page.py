"""The "Network graph" page of the Two-layer net tab: the seed's layer calls as a
computational graph on a small batch of real images, stepped forward and backward one
layer call at a time with the Graph tab's keys, every tensor inspectable, and any
element explained as a scalar graph in the Graph tab's engine.

Layout: the weights and batch picker (left); the graph canvas with its step toolbar
(top right); under it the node inspector and the explanation (tabs). Building the net,
every step and every explanation run in a worker, one at a time, queued in order (a
burst of → presses steps as many times); the GUI thread only swaps in the results.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QLabel,
    QScrollArea,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from gui import file_dialogs
from gui.graph_tab.stepping import step_action
from gui.graph_tab.view import GraphView
from gui.mlp_tab.network_graph.batch_picker import BatchPicker
from gui.mlp_tab.network_graph.explain_view import EXPAND_MORE, UNFOLD_MORE, ExplainView
from gui.mlp_tab.network_graph.inspector import NodeInspector
from gui.mlp_tab.network_graph.jobs import (
    Built,
    Explained,
    NodeBands,
    Refused,
    Stepped,
    WeightsPlan,
    build_job,
    explain_job,
    step_job,
)
from gui.mlp_tab.network_graph.scene import NetworkScene
from gui.training.tab_layout import splitter
from gui.worker import GeneratorWorker

#: presses of → or ← waiting beyond this are dropped (a held key must not queue forever)
MAX_QUEUED = 24
TOP_TERMS = 8


class NetworkGraphPage(QWidget):
    """Signals: ``built()`` after a net is shown, ``stepped(command)`` after each step,
    ``explained(element)`` after an explanation is shown, ``refused(message)``."""

    built = Signal()
    stepped = Signal(str)
    explained = Signal(str)
    refused = Signal(str)

    def __init__(self, tab: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkGraphPage")
        self.tab = tab
        self.context = tab.context
        self.ng: Any = None
        self.bands: dict[str, NodeBands] = {}
        self.selected: str | None = None
        self.current: str | None = None
        self.direction = "forward"
        #: worker time of the last step and explanation (the bench reports them)
        self.last_step_seconds: float | None = None
        self.last_explain_seconds: float | None = None
        self._queue: deque[tuple[str, Callable, Callable[[Any], None]]] = deque()
        self._worker: GeneratorWorker | None = None
        self._explain_key: tuple[str, dict[str, int]] | None = None
        self._fitted: tuple[int, Any] | None = None  # (id(dataset), Preprocessor)
        self._shown = False

        self.picker = BatchPicker()
        self.scene = NetworkScene(self)
        # The Graph tab's view (zoom, pan, fit, grid) asks its scene only for what
        # NetworkScene provides: set_zoom, items_rect, node_at and fast_edges.
        self.canvas = GraphView(self.scene)  # type: ignore[arg-type]
        self.canvas.setObjectName("networkGraphCanvas")
        self.status = QLabel()
        self.status.setObjectName("networkGraphStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setStyleSheet("padding: 2px 6px;")
        self.inspector = NodeInspector()
        self.explain_view = ExplainView()
        self.bottom = QTabWidget()
        self.bottom.setObjectName("networkGraphBottom")
        inspector_scroll = QScrollArea()
        inspector_scroll.setWidgetResizable(True)
        inspector_scroll.setWidget(self.inspector)
        inspector_scroll.setMinimumHeight(120)
        self.inspector_page = inspector_scroll
        self.bottom.addTab(inspector_scroll, "Node")
        self.bottom.addTab(self.explain_view, "Explain this number")

        def make(text: str, short: str, keys: list[str], tip: str, command: str):
            return step_action(self, text, short, keys, tip, lambda: self.step(command))

        self.forward_action = make(
            "Step forward", "Step →", ["Right"], "Run the next layer call's forward", "forward"
        )
        self.backward_action = make(
            "Step backward",
            "← Step backward",
            ["Left"],
            "Run the next layer call's backward",
            "backward",
        )
        self.back_action = make(
            "Step back", "↶ Undo step", ["Backspace"], "Undo the last step", "back"
        )
        self.run_action = make("Run all", "» Run all", ["F5"], "Finish both passes", "run")
        self.reset_action = make(
            "Reset", "⟲ Reset", ["Shift+F5"], "Forget every computed tensor", "reset"
        )
        self.step_actions = [
            self.forward_action,
            self.backward_action,
            self.back_action,
            self.run_action,
            self.reset_action,
        ]
        self.toolbar = QToolBar()
        self.toolbar.setObjectName("networkGraphToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in self.step_actions:
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        fit = self.toolbar.addAction("Fit")
        fit.setToolTip("Frame the whole graph")
        fit.triggered.connect(lambda: self.canvas.fit())

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(0)
        tl.addWidget(self.toolbar)
        tl.addWidget(self.status)
        tl.addWidget(self.canvas, 1)
        right = splitter(Qt.Orientation.Vertical, (top, 3), (self.bottom, 2), sizes=[360, 260])
        self.right = right
        self._sizes_before_enlarge: list[int] = []
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.picker)
        scroll.setMinimumWidth(215)
        main = splitter(Qt.Orientation.Horizontal, (scroll, 0), (right, 1), sizes=[240, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(main)
        # The step keys act in the canvas, the picker and the inspector; the explanation
        # steps its own scalar graph with the same keys (never both: no ambiguity).
        for widget in (top, scroll, self.inspector):
            for action in self.step_actions:
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                widget.addAction(action)

        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.setInterval(150)
        self._rebuild_timer.timeout.connect(self.rebuild)
        self.picker.changed.connect(self._rebuild_timer.start)
        self.picker.checkpoint_wanted.connect(self.choose_checkpoint)
        self.picker.load_data_wanted.connect(self._load_data)
        self.scene.node_clicked.connect(self.select_node)
        self.scene.element_picked.connect(
            lambda tensor, which, index: self.explain(which, tensor, index)
        )
        self.inspector.element_clicked.connect(self.explain)
        self.explain_view.unfold_requested.connect(self.unfold)
        self.explain_view.enlarge_action.toggled.connect(self._enlarge_explanation)
        self.explain_view.status.connect(lambda text, _ms: self.say(text))
        panel = tab.data_panel
        panel.dataset_ready.connect(lambda _ds: self._on_data_changed())
        panel.spec_changed.connect(lambda _spec: self._on_data_changed())
        panel.info_changed.connect(self._update_data_state)
        panel.busy_changed.connect(lambda _busy: self._update_data_state())
        tab.selected_run_changed.connect(lambda _rid: self._on_run_changed())
        tab.snapshot_selected.connect(lambda _rid, _step: self._on_run_changed())
        self._update_data_state()
        self._update_actions()

    # -- showing ---------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._shown:
            self._shown = True
            self.rebuild()

    def say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("padding: 2px 6px;" + (" color: #a61b1b;" if error else ""))
        self.status.setText(text)

    def is_busy(self) -> bool:
        return self._worker is not None or bool(self._queue)

    # -- the job queue ---------------------------------------------------------------
    def _submit(self, kind: str, factory: Callable, on_item: Callable[[Any], None]) -> None:
        self._queue.append((kind, factory, on_item))
        self._pump()

    def _pump(self) -> None:
        if self._worker is not None or not self._queue:
            return
        kind, factory, on_item = self._queue.popleft()
        worker = self.context.workers.start(factory, name=f"netgraph-{kind}")
        self._worker = worker
        worker.item.connect(on_item)
        worker.failed.connect(lambda message, _tb: self.say(f"{kind} failed: {message}", True))
        worker.done.connect(self._on_job_done)

    def _on_job_done(self, _status: str) -> None:
        self._worker = None
        self._pump()
        self._update_actions()

    def _drop_queued(self, *kinds: str) -> None:
        self._queue = deque(job for job in self._queue if job[0] not in kinds)

    # -- building --------------------------------------------------------------------
    def _dataset(self) -> Any:
        panel = self.tab.data_panel
        return panel.dataset if panel.dataset_is_current() else None

    def _update_data_state(self) -> None:
        ds = self._dataset()
        if ds is not None:
            self.picker.set_data_state(f"Images from {ds.source}.", False)
        elif self.tab.data_panel.is_busy():
            self.picker.set_data_state("The dataset is loading…", False)
        else:
            self.picker.set_data_state(
                "No dataset loaded: the batch is random numbers until you load one.",
                self.tab.data_panel.is_ready(),
            )

    def _on_data_changed(self) -> None:
        self._update_data_state()
        if self._shown:
            self._rebuild_timer.start()

    def _on_run_changed(self) -> None:
        if self._shown and self.picker.source() == "run":
            self._rebuild_timer.start()

    def _load_data(self) -> None:
        if not self.tab.data_panel.load():
            self.say(self.tab.data_panel.not_ready_reason() or "Cannot load the dataset", True)
        else:
            self.say("Loading the dataset…")
            self._update_data_state()

    def choose_checkpoint(self) -> None:
        path = file_dialogs.open_file(
            self, self.context.settings, "checkpoint", "Open a checkpoint",
            "numpy network checkpoint (*.npz)",
        )  # fmt: skip
        if path is None:
            if self.picker.checkpoint is None:
                self.picker.set_source("init")
            return
        self.picker.set_checkpoint(Path(path))

    def _weights_plan(self) -> WeightsPlan | str:
        choice = self.picker.choice()
        if choice.source == "checkpoint":
            if choice.checkpoint is None:
                return "Choose a checkpoint file first."
            return WeightsPlan(checkpoint=choice.checkpoint)
        if choice.source == "run":
            run = self.tab.selected_run()
            model = self.tab.model_of(run)
            if model is None:
                return "No run with a model yet: train one, load a checkpoint, or pick Fresh."
            record = run.payload
            snapshot = self.tab.selected_snapshot()  # an epoch picked on the timeline
            if snapshot is not None and self.tab.snapshot_control.selected_run_id() == run.run_id:
                return WeightsPlan(
                    model=snapshot.weights(),
                    preprocessor=record.preprocessor,
                    text=f"{run.name}: its {snapshot.name} snapshot ({type(model).__name__})",
                )
            return WeightsPlan(
                model=model,
                preprocessor=record.preprocessor,
                text=f"{run.name}: the run's latest weights ({type(model).__name__}); pick "
                "an epoch on the timeline under the plots for its snapshot",
            )
        form = self.tab.form
        config = form.config() if form.is_valid() else None
        args: dict[str, Any] = {}
        if config is not None:
            args = {"weight_scale": config.weight_scale, "seed": config.seed}
            if choice.model == "TwoLayerNet":
                args["hidden_dim"] = config.hidden_dim
        text = "Fresh initialisation"
        if args:
            hidden = f"hidden size {args['hidden_dim']}, " if "hidden_dim" in args else ""
            text += f" ({hidden}weight scale {args['weight_scale']:g}, seed {args['seed']})"
        return WeightsPlan(init_kind=choice.model, init_args=args, text=text)

    def rebuild(self) -> None:
        """Build the net from the picker's choices (in the worker)."""
        self._rebuild_timer.stop()
        plan = self._weights_plan()
        if isinstance(plan, str):
            self.say(plan, True)
            return
        choice = self.picker.choice()
        dataset = self._dataset()
        split = choice.split if dataset is not None else "random"
        self._drop_queued("build", "step", "explain")
        self.say("Building the network graph…")
        self._submit(
            "build",
            build_job(plan, dataset, split, choice.n, choice.seed, choice.reg, self._fit),
            self._on_build_item,
        )

    def _fit(self, dataset: Any) -> Any:
        """The dataset's preprocessing, fitted once per loaded dataset (in the worker)."""
        from nets.data.preprocess import Preprocessor

        cached = self._fitted
        if cached is not None and cached[0] == id(dataset):
            return cached[1]
        pre = Preprocessor.fit(dataset.X_train)
        self._fitted = (id(dataset), pre)
        return pre

    def _refuse(self, item: Any) -> bool:
        """Say why a job refused (True if ``item`` is its ``Refused``)."""
        if not isinstance(item, Refused):
            return False
        self.say(item.message, True)
        self.refused.emit(item.message)
        return True

    def _on_build_item(self, item: Any) -> None:
        if self._refuse(item) or not isinstance(item, Built):
            return
        self.ng = item.ng
        self.bands = item.bands
        self.current = None
        self.scene.build(item.ng.nodes, item.ng.edges)
        self.scene.show_bands(self.bands, None, "forward")
        batch = item.ng.batch
        self.picker.show_batch(batch.images, batch.y, batch.class_names, batch.indices, batch.split)
        self.picker.set_weights_text(item.weights_text)
        if self.selected not in self.scene.nodes:
            self.selected = "fc1" if "fc1" in self.scene.nodes else None
        self._select_item()
        self.inspector.show_node(self.ng, self.selected, self.bands)
        self.canvas.fit_when_shown()
        n = batch.X.shape[0]
        self.say(
            f"{item.ng.kind} on {n} image{'s' if n != 1 else ''}: press → to run the first "
            "layer call, ← for the backward pass, F5 for both. Double-click a heat-map (or "
            "click one below) to explain a number."
        )
        self._update_actions()
        self.built.emit()

    # -- stepping --------------------------------------------------------------------
    def step(self, command: str) -> bool:
        """Queue one stepping command; False when there is no net or the queue is full."""
        if self.ng is None:
            if not self.isVisible() and self.tab.views is not None:
                self.tab.show_page(self)  # from the View menu: show it
            self.say("The network graph is still being built: step again when it shows.")
            return False
        if sum(1 for job in self._queue if job[0] == "step") >= MAX_QUEUED:
            return False
        ng = self.ng
        self._submit("step", step_job(ng, command, lambda: self.bands), self._on_step_item)
        return True

    def _on_step_item(self, item: Any) -> None:
        if not isinstance(item, Stepped):
            return
        self.bands = item.bands
        self.last_step_seconds = item.seconds
        if item.result is not None:
            self.current = item.result.node
            self.direction = item.result.direction
        elif item.command in ("run", "reset", "back"):
            self.current = None
        self.scene.show_bands(self.bands, self.current, self.direction)
        self.inspector.show_node(self.ng, self.selected, self.bands)
        self.say(item.message)
        self._update_actions()
        self.stepped.emit(item.command)

    def _update_actions(self) -> None:
        has = self.ng is not None
        for action in self.step_actions:
            action.setEnabled(has)

    # -- selecting and explaining ----------------------------------------------------
    def select_node(self, name: str) -> None:
        self.selected = name
        self._select_item()
        self.inspector.show_node(self.ng, name, self.bands)
        self.bottom.setCurrentWidget(self.inspector_page)

    def _select_item(self) -> None:
        for node_name, item in self.scene.nodes.items():
            item.setSelected(node_name == self.selected)

    def explain(self, kind: str, tensor: str, index: tuple, unfold: dict | None = None) -> bool:
        """Explain ``kind`` ("value"/"grad") of ``tensor[index]`` (in the worker)."""
        if self.ng is None:
            return False
        from nets.mlp.explain import Element

        element = Element(kind, tensor, tuple(int(i) for i in index))
        self._explain_key = (str(element), dict(unfold or {}))
        self._drop_queued("explain")
        self.say(f"Explaining {element}…")
        self._submit(
            # as text: parse_element checks the name and index against the shapes
            "explain",
            explain_job(self.ng, str(element), TOP_TERMS, unfold, lambda: self.bands),
            self._on_explain_item,
        )
        return True

    def unfold(self, key: str) -> None:
        expl = self.explain_view.explanation
        if expl is None:
            return
        counts = dict(self._explain_key[1]) if self._explain_key else {}
        if key == "expanded":  # value:L: examples drawn as their whole softmax
            counts[key] = counts.get(key, 1) + EXPAND_MORE
        else:
            shown = next((s.shown for s in expl.sums if s.key == key), 0)
            counts[key] = shown + UNFOLD_MORE
        el = expl.element
        self.explain(el.kind, el.tensor, el.index, counts)

    def _enlarge_explanation(self, on: bool) -> None:
        if on:
            self._sizes_before_enlarge = self.right.sizes()
            total = sum(self._sizes_before_enlarge)
            self.right.setSizes([min(140, total // 4), total - min(140, total // 4)])
        elif self._sizes_before_enlarge:
            self.right.setSizes(self._sizes_before_enlarge)
        self.explain_view.canvas.fit()

    def _on_explain_item(self, item: Any) -> None:
        if self._refuse(item) or not isinstance(item, Explained):
            return
        expl = item.explanation
        self.last_explain_seconds = item.seconds
        more = 0
        if str(expl.element) == "value:L" and self.ng is not None:
            drawn = (self._explain_key[1] if self._explain_key else {}).get("expanded", 1)
            more = max(0, int(self.ng.batch.X.shape[0]) - drawn)
        self.explain_view.show_explanation(expl, item.operands, more)
        self.bottom.setCurrentWidget(self.explain_view)
        self.say(
            f"{expl.element} = {expl.value:.6g}: {expl.formula}  "
            f"({item.seconds * 1000:.0f} ms). Step the scalar graph below with → and ←."
        )
        self.explained.emit(str(expl.element))

    # -- lifecycle and tests ---------------------------------------------------------
    def shutdown(self) -> None:
        self._queue.clear()
        self._rebuild_timer.stop()
        if self._worker is not None:
            self._worker.cancel()

    def test_state(self) -> dict:
        """What the page shows, for the real-window tests (screen rectangles included)."""
        ng = self.ng

        def heat(panel) -> dict:
            m = panel.heat._matrix
            top_left = panel.heat.mapToGlobal(panel.heat.rect().topLeft())
            cell = panel.heat.cell_rect(0, 0)
            return {
                "shape": list(m.shape) if m is not None else [],
                "origin": [top_left.x() + cell.left(), top_left.y() + cell.top()],
                "cell": [cell.width(), cell.height()],
                "visible": panel.heat.isVisible(),
            }

        return {
            "kind": ng.kind if ng is not None else "",
            "n": int(ng.batch.X.shape[0]) if ng is not None else 0,
            "forward_done": ng.forward_done if ng is not None else 0,
            "backward_done": ng.backward_done if ng is not None else 0,
            "current": self.current or "",
            "selected": self.selected or "",
            "status": self.status.text(),
            "busy": self.is_busy(),
            "explain": self.explain_view.test_state(),
            "captions": self.picker.gallery.captions(),
            "value_heat": heat(self.inspector.value_panel),
            "grad_heat": heat(self.inspector.grad_panel),
        }
