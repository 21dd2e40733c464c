"""`netcalc diagram` and `netcalc docs`: the drawing is the summary's graph."""

from __future__ import annotations

import functools
import json
import re
import xml.etree.ElementTree as ET

import pytest

from helpers import SPECS, run_cli, spec_cases

SVG = "{http://www.w3.org/2000/svg}"


def svg_texts(path) -> tuple[set[str], list[str]]:
    """(node and edge titles, every text) of a Graphviz SVG."""
    root = ET.parse(path).getroot()
    titles = {t.text for t in root.iter(f"{SVG}title")}
    texts = [t.text.strip() for t in root.iter(f"{SVG}text") if t.text]
    return titles, texts


def summary_of(path, capsys, *options):
    code, out, _ = run_cli(capsys, "summary", str(path), "--format", "json", *options)
    assert code == 0
    return json.loads(out)


@pytest.mark.parametrize("path", spec_cases())
def test_every_layer_and_every_shape_is_in_the_svg(path, tmp_path, capsys):
    target = tmp_path / "net.svg"
    code, _, err = run_cli(capsys, "diagram", str(path), "-o", str(target))
    assert code == 0, err
    titles, texts = svg_texts(target)
    summary = summary_of(path, capsys)
    layers = summary["layers"]
    assert {layer["name"] for layer in layers} <= titles
    # an edge into each layer from each producer, labelled with the producer's shape less
    # its batch dim (the second of an RNN's h_n)
    def drawn(shape, batch_dim):
        return [size for dim, size in enumerate(shape) if dim != batch_dim]

    shapes = {layer["name"]: drawn(layer["output_shape"], layer["batch_dim"]) for layer in layers}
    shapes.update({name: drawn(shape, 0) for name, shape in summary["inputs"].items()})
    edges = {f"{'input:' if p in summary['inputs'] else ''}{p}->{layer['name']}"
             for layer in layers for p in layer["inputs"]}
    assert edges <= titles
    labels = {"×".join(map(str, shapes[p])) for layer in layers for p in layer["inputs"]}
    assert labels <= set(texts)
    # the title carries the totals
    # (every input's shape, in order: seq2seq_gru's "input 30, 30")
    shown = ", ".join("×".join(map(str, shape[1:])) for shape in summary["inputs"].values())
    assert any(text.endswith(f"MACs · input {shown}") for text in texts)


@functools.lru_cache(maxsize=None)
def netresdeep_by_torch():
    """torch.fx's graph of the tutorial's NetResDeep as tests/reference_models.py writes
    it, each node carrying the shape torch gives it on a 3×32×32 input."""
    import torch
    from torch.fx import symbolic_trace
    from torch.fx.passes.shape_prop import ShapeProp

    import reference_models

    traced = symbolic_trace(reference_models.NetResDeep().eval())
    ShapeProp(traced).propagate(torch.zeros(1, 3, 32, 32))
    return traced.graph


DOT_NODE = re.compile(r'"([^"]+)" \[(?:label="([^"]*)")?')
DOT_EDGE = re.compile(r'"([^"]+)" -> "([^"]+)"(?: \[label="([^"]*)"\])?;')
DOT_CLUSTER = re.compile(r'subgraph "?(cluster_[^" ]+)"? \{')


def read_dot(text: str):
    """{node: (the clusters it sits in, its plain label)}, {(tail, head): edge label};
    the legend (a key to the colours) left out."""
    nodes, edges, clusters = {}, {}, []
    for line in text.splitlines():
        line = line.strip()
        if cluster := DOT_CLUSTER.match(line):
            clusters.append(cluster[1])
        elif line == "}" and clusters:
            clusters.pop()
        elif edge := DOT_EDGE.match(line):
            edges[edge[1], edge[2]] = edge[3]
        elif (node := DOT_NODE.match(line)) and "cluster_legend" not in clusters:
            nodes[node[1]] = (tuple(clusters), node[2])
    return nodes, edges


@pytest.mark.torch
def test_the_dot_graph_is_torchs_graph_of_the_tutorials_model(capsys):
    code, out, err = run_cli(capsys, "diagram", str(SPECS / "seeds/seed004_netresdeep.yaml"))
    assert code == 0, err
    nodes, edges = read_dot(out)
    producers = {node: {tail for tail, head in edges if head == node} for node in nodes}

    def size(fx_node) -> str:          # the drawing's 32×16×16: the shape less the batch
        return "×".join(map(str, fx_node.meta["tensor_meta"].shape[1:]))

    # Match torch's nodes to the drawing's in execution order: each to the one node
    # whose producers are exactly its inputs' matches (and a module to its own name).
    # All matched one to one, the two graphs are the same, edge for edge.
    drawn = {}
    for fx_node in netresdeep_by_torch().nodes:
        inputs = {drawn[i] for i in fx_node.all_input_nodes}
        candidates = [n for n in nodes if producers[n] == inputs and n not in drawn.values()]
        if fx_node.op == "call_module":
            assert fx_node.target in candidates, (fx_node.target, candidates)
            drawn[fx_node] = fx_node.target
        else:
            assert len(candidates) == 1, (fx_node.name, candidates)
            drawn[fx_node] = candidates[0]
        # inside the blocks (clusters) of the torch modules that run it
        modules = [m for m in fx_node.meta.get("nn_module_stack", {}) if m != fx_node.target]
        assert nodes[drawn[fx_node]][0] == tuple(f"cluster_{m}" for m in modules), fx_node
    assert sorted(drawn.values()) == sorted(nodes)

    # each edge carries its producer's shape; the input and output nodes theirs
    tail_of = {name: fx_node for fx_node, name in drawn.items()}
    for (tail, head), label in edges.items():
        if head.startswith("output:"):
            continue
        assert label is not None and label.strip() == size(tail_of[tail]), (tail, head)
    for fx_node, name in drawn.items():
        if fx_node.op in ("placeholder", "output"):
            assert nodes[name][1].split("\\n")[1] == size(fx_node), name


def test_depth_folds_blocks_into_one_node_each(tmp_path, capsys):
    target = tmp_path / "r18.svg"
    run_cli(capsys, "diagram", str(SPECS / "resnet18.yaml"), "--depth", "2",
            "--show", "shapes,args,params,macs", "-o", str(target))
    titles, texts = svg_texts(target)
    blocks = {f"layer{s}.{k}" for s in range(1, 5) for k in range(2)}
    assert blocks <= titles and "layer1.0.conv1" not in titles
    assert "layer1.0->layer1.1" in titles and "layer1.1->layer2.0" in titles
    assert "params 73,984" in texts and "MACs 231.21 M" in texts     # layer1.0's sums
    assert "layer1 (basic_block ×2)" in texts


def test_a_repeat_can_be_drawn_once(tmp_path, capsys):
    target = tmp_path / "r18.svg"
    run_cli(capsys, "diagram", str(SPECS / "resnet18.yaml"), "--repeats", "once",
            "-o", str(target))
    titles, _ = svg_texts(target)
    assert "layer1.0.conv1" in titles and "layer1.1.conv1" not in titles
    # what read the repeat's last copy reads its first
    assert "layer1.0.relu_out->layer2.0.conv1" in titles


@pytest.mark.parametrize("suffix,magic", [("png", b"\x89PNG"), ("pdf", b"%PDF"),
                                          ("svg", b"<?xml")])
def test_the_format_follows_the_file_name(suffix, magic, tmp_path, capsys):
    target = tmp_path / f"alexnet.{suffix}"
    code, _, _ = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), "-o", str(target))
    assert code == 0 and target.read_bytes().startswith(magic)


def test_without_dot_it_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))         # no `dot` anywhere
    target = tmp_path / "alexnet.svg"
    code, out, err = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), "-o", str(target))
    assert (code, out) == (2, "")
    assert "needs Graphviz's dot program" in err and "apt-get install graphviz" in err
    assert "--format dot" in err and "Traceback" not in err
    assert not target.exists()
    code, out, _ = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), "--format", "dot")
    assert code == 0 and out.startswith('digraph "alexnet" {')


def test_a_bad_show_is_a_usage_error(capsys):
    code, _, err = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), "--show", "flops")
    assert code == 2 and "--show flops: choose from shapes, params, macs, args" in err


def test_show_adds_to_the_shapes_and_notation_and_no_leaves_them_out(capsys):
    def line_of(node: str, *show) -> tuple[str, str]:
        """The conv's node line and its edge to the ReLU, as drawn."""
        code, out, _ = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), *show)
        assert code == 0
        lines = out.splitlines()
        return (next(text for text in lines if text.strip().startswith(f'"{node}" [')),
                next(text for text in lines if f'"{node}" -> ' in text))

    node, edge = line_of("conv1.conv", "--show", "params,macs")
    assert "conv 11×11/4, 64" in node and "params 23,296" in node and "MACs 70.28 M" in node
    assert 'label=" 64×55×55"' in edge                     # the shapes stay drawn
    node, edge = line_of("conv1.conv", "--show", "no-shapes,no-args")
    assert "conv 11×11/4" not in node and "label=" not in edge


@pytest.mark.parametrize("name", ["a.jpg", "picture.jpeg", "graph.txt"])
def test_an_output_suffix_netcalc_cannot_draw_is_a_usage_error(name, tmp_path, capsys):
    target = tmp_path / name
    code, out, err = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), "-o", str(target))
    assert code == 2 and not target.exists()
    assert f"-o {target}: netcalc draws .svg, .png, .pdf and .dot (or .gv)" in err


@pytest.mark.parametrize("name, fmt", [("x.svg", "png"), ("q.png", "svg"), ("g.dot", "pdf")])
def test_an_output_suffix_and_a_format_that_disagree_are_a_usage_error(name, fmt, tmp_path,
                                                                         capsys):
    """A newcomer's -o x.svg --format png wrote PNG bytes into x.svg and exited 0."""
    target = tmp_path / name
    code, _, err = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), "-o", str(target),
                           "--format", fmt)
    assert code == 2 and not target.exists()
    assert f"-o {target} and --format {fmt} disagree: name the file *.{fmt}" in err
    code, _, _ = run_cli(capsys, "diagram", str(SPECS / "alexnet.yaml"), "-o", str(target),
                         "--format", name.rsplit(".", 1)[1])
    assert code == 0 and target.exists()


def test_docs_writes_a_page_per_model_and_an_index(tmp_path, capsys):
    site = tmp_path / "site"
    code, _, err = run_cli(capsys, "docs", str(SPECS / "alexnet.yaml"),
                           str(SPECS / "resnet18.yaml"), "-o", str(site), "--depth", "2")
    assert code == 0, err
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == \
        ["docs/alexnet.md", "docs/alexnet.svg", "docs/index.md", "docs/resnet18.md",
         "docs/resnet18.svg", "mkdocs.yml"]
    index = (site / "docs" / "index.md").read_text()
    assert "| [resnet18](resnet18.md) | [3, 224, 224] | 69 | 11,689,512 (11.69 M) | " \
           "1,814,073,344 (1.81 G) |" in index
    page = (site / "docs" / "resnet18.md").read_text()
    assert page.startswith("# resnet18\n") and "![resnet18](resnet18.svg)" in page
    assert "| **layer1** | basic_block ×2 | [1, 64, 56, 56] | 147,968 | 462,422,016 |" in page
    ET.parse(site / "docs" / "resnet18.svg")
    config = (site / "mkdocs.yml").read_text()
    assert '  - "alexnet": alexnet.md\n  - "resnet18": resnet18.md\n' in config


def test_docs_writes_nothing_when_a_spec_is_wrong(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nlayers:\n  - {type: conv2d, out_channels: 4, "
                   "kernel_size: 9}\n")
    site = tmp_path / "site"
    code, _, err = run_cli(capsys, "docs", str(SPECS / "alexnet.yaml"), str(bad), "-o",
                           str(site))
    assert code == 1 and err.startswith(f"{bad}:3:")
    assert not site.exists()


def test_every_layer_family_has_its_own_fill():
    from netcalc.layers import REGISTRY
    from netcalc.render.dot import FAMILY_COLOURS

    families = {cls.family for cls in REGISTRY.values()}
    assert families <= set(FAMILY_COLOURS), families - set(FAMILY_COLOURS)


def test_copies_named_by_i_are_drawn_once_and_a_block_of_them_says_how_many(capsys):
    """ViT's encoder_layer_0 ... encoder_layer_11 (a repeat named by ${i}, as torchvision
    names them): --repeats once draws the first, ×12; folded, their block says ×12."""
    code, out, _ = run_cli(capsys, "diagram", str(SPECS / "vit_b_16.yaml"), "--repeats", "once")
    assert code == 0
    nodes, edges = read_dot(out)
    assert not any("encoder_layer_1." in node for node in nodes)
    assert "encoder.layers.encoder_layer_0 (encoder_block ×12)" in out
    # what reads the last copy reads the first's, drawn in its place
    assert ("encoder.layers.encoder_layer_0.add_mlp", "encoder.ln") in edges
    code, out, _ = run_cli(capsys, "diagram", str(SPECS / "vit_b_16.yaml"), "--depth", "2")
    assert "encoder_layers: encoder_block ×12" in out


def test_the_legend_is_a_narrow_table_two_families_a_row(capsys):
    code, out, _ = run_cli(capsys, "diagram", str(SPECS / "resnet18.yaml"))
    legend = next(line for line in out.splitlines() if line.strip().startswith('"legend"'))
    rows = legend.count("<TR>") - 1                               # less the title's
    families = legend.count("BGCOLOR")
    assert rows == (families + 1) // 2 and families >= 5
