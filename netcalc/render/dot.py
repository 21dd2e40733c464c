"""`netcalc diagram`: the layer graph as Graphviz DOT.

One node per layer (or per block folded by `--depth`), labelled with the
layer's name and its textbook notation; edges carry the shape that flows
along them; blocks and repeats are clusters; add, mul and concat are drawn as
merges. Everything comes from the Summary: the same graph and numbers as the
table. The text is deterministic: the same spec gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from ..results import LayerResult, Row, Summary
from . import units

# Fill colours by layer family (light, so the black text stays readable in print)
FAMILY_COLOURS = {
    "conv": "#cfe2ff", "linear": "#f8d7da", "norm": "#d1e7dd", "activation": "#fff3cd",
    "pool": "#e2d9f3", "merge": "#ffe5d0", "reshape": "#eeeeee", "dropout": "#f4f4f4",
    "embedding": "#f8d7da", "resize": "#e2d9f3", "pad": "#e2d9f3", "reduce": "#e2d9f3",
    "attention": "#d2f4ea", "parameter": "#fce8f3", "block": "#ffffff",
    "arithmetic": "#e6f4c8", "recurrent": "#f6c9a8",
    "torch": "#ebe8d0",       # a captured model's op netcalc read from torch (TorchOp)
}
MERGE_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷"}
SHOWABLE = ("shapes", "params", "macs", "args")
DEFAULT_SHOWN = ("shapes", "args")


@dataclass(frozen=True)
class DiagramOptions:
    """How to draw: presentation only."""

    rankdir: str = "TB"
    depth: int | None = None                 # fold blocks below this many levels
    show: tuple[str, ...] = DEFAULT_SHOWN
    title: str | None = None
    repeats: str = "all"                      # "once": a repeat's first copy, marked ×N


@dataclass
class _Cluster:
    """A block drawn as a Graphviz cluster, with what it holds."""

    row: Row
    items: list = field(default_factory=list)  # node ids and sub-clusters, in order


def render(summary: Summary, options: DiagramOptions | None = None) -> str:
    drawing = _Drawing(summary, options or DiagramOptions())
    return drawing.dot()


class _Drawing:
    def __init__(self, summary: Summary, options: DiagramOptions):
        self.summary, self.options = summary, options
        self.groups = {row.name: row for row in summary.blocks}
        self.layers = {layer.name: layer for layer in summary.layers}
        self.stand_in = self._repeat_stand_ins() if options.repeats == "once" else {}
        self.child_blocks: dict[str, list[Row]] = {}     # a block -> the blocks just inside
        for row in summary.blocks:
            enclosing = self._ancestors(row.name)
            if enclosing:
                self.child_blocks.setdefault(enclosing[-1].name, []).append(row)

    # -- which node shows what --

    def _ancestors(self, name: str) -> list[Row]:
        """The groups a layer (or group) is in, outermost first."""
        parts = name.split(".")
        return [self.groups[g] for g in (".".join(parts[:k]) for k in range(1, len(parts)))
                if g in self.groups]

    def _folded(self, row: Row) -> bool:
        depth = self.options.depth
        return depth is not None and row.depth >= depth - 1

    def node_of(self, name: str) -> str | None:
        """The node that shows layer `name`: itself, its folded block, or None if hidden
        (a later copy of a repeat drawn once)."""
        if self._hidden(name):
            return None
        for row in self._ancestors(name):
            if self._folded(row):
                return row.name
        return name

    def _hidden(self, name: str) -> bool:
        if self.options.repeats != "once":
            return False
        for row in self._ancestors(name):
            if row.kind == "repeat" and name[len(row.name) + 1:].split(".")[0] != "0":
                return True
            if row.series and row.series[0] > 0:      # encoder_layer_1 ...: a later copy
                return True
        return False

    def _repeat_stand_ins(self) -> dict[str, str]:
        """A repeat drawn once: what reads its output reads its first copy's."""
        copies = []                        # (first copy's name, last copy's name)
        first = None
        for row in self.summary.blocks:
            if row.kind == "repeat" and row.copies > 1:
                copies.append((f"{row.name}.0", f"{row.name}.{row.copies - 1}"))
            if row.series and row.series[0] == 0:
                first = row.name
            if row.series and row.series[0] == row.series[1] - 1 and first and row.series[1] > 1:
                copies.append((first, row.name))
        stand_in = {}
        for first, last in copies:
            for name in self.layers:
                if name == last or name.startswith(last + "."):
                    stand_in[name] = first + name[len(last):]
        return stand_in

    def _copies(self, row: Row) -> str:
        """` ×12` for a repeat, a repeat's copy drawn once, or a block that holds nothing
        but such copies (ViT's encoder layers at --depth 2)."""
        if row.kind == "repeat":
            return f" ×{row.copies}"
        if row.series and self.options.repeats == "once":
            return f" ×{row.series[1]}"
        inside = self.child_blocks.get(row.name, [])
        if inside and all(g.series for g in inside) and len(inside) == inside[0].series[1] \
                and len({g.type for g in inside}) == 1 and self._folded(row):
            return f": {inside[0].type} ×{len(inside)}"
        return ""

    # -- DOT --

    def dot(self) -> str:
        lines = [f"digraph {_quote(self.summary.name)} {{"]
        lines += [f"  {line}" for line in self._attributes()]
        lines += self._inputs()
        root = _Cluster(row=None)
        self._place(root)
        lines += self._emit(root, "  ")
        lines += self._edges()
        lines += self._outputs()
        lines += self._legend()
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _attributes(self) -> list[str]:
        t = self.summary.totals
        shapes = ", ".join(_dims(shape[1:]) for shape in self.summary.inputs.values())
        title = self.options.title or self.summary.name
        caption = (f"{title}\n{units.si(t.params)} params · {units.si(t.macs)} MACs · "
                   f"input {shapes}")
        return [
            f"graph [rankdir={self.options.rankdir}, label={_quote(caption)}, labelloc=t, "
            'fontname="Helvetica", fontsize=16, newrank=true, nodesep=0.25, ranksep=0.3, '
            'compound=true];',
            'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
            'color="#555555", penwidth=0.8, margin="0.1,0.04", height=0.3];',
            'edge [fontname="Helvetica", fontsize=8, color="#666666", fontcolor="#444444", '
            "arrowsize=0.6];",
        ]

    def _inputs(self) -> list[str]:
        return [f"  {_quote('input:' + name)} [label={_quote(name + chr(10) + _dims(shape[1:]))}"
                ', shape=oval, style=filled, fillcolor="#f0f0f0"];'
                for name, shape in self.summary.inputs.items()]

    def _place(self, root: _Cluster) -> None:
        """Every drawn node into the cluster of each enclosing, unfolded group."""
        clusters: dict[str, _Cluster] = {}
        seen = set()
        for layer in self.summary.layers:
            node = self.node_of(layer.name)
            if node is None or node in seen:
                continue
            seen.add(node)
            parent = root
            for row in self._ancestors(node):
                if row.name not in clusters:
                    clusters[row.name] = _Cluster(row)
                    parent.items.append(clusters[row.name])
                parent = clusters[row.name]
            parent.items.append(node)

    def _emit(self, cluster: _Cluster, indent: str) -> list[str]:
        lines = []
        for item in cluster.items:
            if isinstance(item, _Cluster):
                row = item.row
                label = f"{row.name} ({row.type}{self._copies(row)})"
                lines.append(f"{indent}subgraph {_quote('cluster_' + row.name)} {{")
                lines.append(f'{indent}  label={_quote(label)}; labeljust=l; fontsize=10; '
                             'style="rounded,dashed"; color="#999999";')
                lines += self._emit(item, indent + "  ")
                lines.append(f"{indent}}}")
            elif item in self.groups:
                lines.append(f"{indent}{self._block_node(self.groups[item])}")
            else:
                lines.append(f"{indent}{self._layer_node(self.layers[item])}")
        return lines

    def _layer_node(self, layer: LayerResult) -> str:
        show = self.options.show
        symbol = MERGE_SYMBOLS.get(layer.type)
        colour = FAMILY_COLOURS.get(layer.family, "#ffffff")
        if symbol:        # a merge: a small circle, named beside it
            return (f"{_quote(layer.name)} [label={_quote(symbol)}, "
                    f"xlabel={_quote(self._local(layer.name))}, "
                    f'shape=circle, width=0.3, fixedsize=true, fillcolor="{colour}"];')
        name = self._local(layer.name)
        kind = layer.notation if "args" in show else layer.type
        lines = [f"<b>{escape(name)}</b>"] + ([escape(kind)] if kind != name else [])
        if "params" in show and layer.params:
            lines.append(f"params {units.count(layer.params)}")
        if "macs" in show and layer.macs:
            lines.append(f"MACs {units.si(layer.macs)}")
        shape = ', shape=trapezium, style="filled"' if layer.type == "concat" else ""
        return (f"{_quote(layer.name)} [label=<{'<br/>'.join(lines)}>{shape}, "
                f'fillcolor="{colour}"];')

    def _block_node(self, row: Row) -> str:
        lines = [f"<b>{escape(self._local(row.name))}</b>", escape(row.type + self._copies(row))]
        if "params" in self.options.show and row.params:
            lines.append(f"params {units.count(row.params)}")
        if "macs" in self.options.show and row.macs:
            lines.append(f"MACs {units.si(row.macs)}")
        return (f"{_quote(row.name)} [label=<{'<br/>'.join(lines)}>, "
                'style="rounded,filled,bold", fillcolor="#ffffff", penwidth=1.5];')

    def _local(self, name: str) -> str:
        """A name inside its drawn cluster, whose label gives the rest: conv1.relu -> relu."""
        clusters = [row for row in self._ancestors(name) if not self._folded(row)]
        return name[len(clusters[-1].name) + 1:] if clusters else name

    def _edges(self) -> list[str]:
        lines, drawn = [], set()
        for layer in self.summary.layers:
            target = self.node_of(layer.name)
            if target is None:
                continue
            for producer in layer.inputs:
                if producer in self.summary.inputs:
                    source = f"input:{producer}"
                    shape = self.summary.inputs[producer][1:]
                else:     # a repeat drawn once gives its output from its first copy
                    source = self.node_of(self.stand_in.get(producer, producer))
                    shape = _without_batch(self.layers[producer])
                if source is None or source == target or (source, target) in drawn:
                    continue
                drawn.add((source, target))
                lines.append(f"  {_quote(source)} -> {_quote(target)}{self._edge_label(shape)};")
        return lines

    def _edge_label(self, shape) -> str:
        if "shapes" not in self.options.show:
            return ""
        return f" [label={_quote(' ' + _dims(shape))}]"

    def _outputs(self) -> list[str]:
        lines = []
        for name, shape in self.summary.outputs.items():
            producer = self.summary.output_layers.get(name, name)
            node = self.node_of(self.stand_in.get(producer, producer))
            if node is None:
                continue
            layer = self.layers.get(producer)
            label = f"output\n{_dims(_without_batch(layer) if layer else shape[1:])}"
            lines.append(f"  {_quote('output:' + name)} [label={_quote(label)}, shape=oval, "
                         'style=filled, fillcolor="#f0f0f0"];')
            lines.append(f"  {_quote(node)} -> {_quote('output:' + name)};")
        return lines

    def _legend(self) -> list[str]:
        drawn = {self.node_of(layer.name) for layer in self.summary.layers}
        families = sorted({layer.family for layer in self.summary.layers
                           if layer.name in drawn and layer.type not in MERGE_SYMBOLS}
                          | ({"block"} if drawn & set(self.groups) else set()))
        if len(families) < 2:
            return []
        # one small table, two families a row (one row beside a left-to-right graph), so
        # that it is never wider than a chain of layers drawn top to bottom
        across = 2 if self.options.rankdir in ("TB", "BT") else len(families)
        rows = []
        for start in range(0, len(families), across):
            cells = "".join(f'<TD BGCOLOR="{FAMILY_COLOURS.get(f, "#ffffff")}">{escape(f)}</TD>'
                            for f in families[start:start + across])
            rows.append(f"<TR>{cells}</TR>")
        table = (f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2" CELLPADDING="3" '
                 f'COLOR="#999999"><TR><TD COLSPAN="{across}" BORDER="0">layer families</TD>'
                 f'</TR>{"".join(rows)}</TABLE>')
        return ['  subgraph cluster_legend {', '    peripheries=0; label="";',
                f'    "legend" [shape=plaintext, style="", fontsize=8, label=<{table}>];',
                "  }"]


def _without_batch(layer: LayerResult) -> tuple:
    """A layer's output shape as the drawing writes it: without its batch dim, wherever the
    layer holds it (an RNN's h_n [layers·D, N, H]: the second)."""
    shape, dim = layer.output_shape, layer.batch_dim
    return shape if dim is None else shape[:dim] + shape[dim + 1:]


def _dims(shape) -> str:
    """(64, 55, 55) -> '64×55×55'"""
    return "×".join(str(d) for d in shape) or "scalar"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


IMAGE_FORMATS = ("svg", "png", "pdf")


def to_image(dot_text: str, fmt: str) -> bytes:
    """The picture Graphviz's `dot` program draws (svg, png or pdf)."""
    from ..errors import MissingToolError, NetcalcError
    try:
        import graphviz
    except ImportError:
        raise MissingToolError(f"--format {fmt} needs the graphviz package: pip install "
                               "graphviz (or use --format dot)") from None
    try:
        return graphviz.Source(dot_text).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise MissingToolError(
            f"--format {fmt} needs Graphviz's dot program, which is not on PATH: install it "
            "(apt-get install graphviz; brew install graphviz; conda install graphviz), or "
            "write the DOT text with --format dot") from None
    except graphviz.CalledProcessError as error:
        stderr = (error.stderr or b"").decode(errors="replace").strip()
        raise NetcalcError(f"Graphviz's dot failed: {stderr or error}") from None
