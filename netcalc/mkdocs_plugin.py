"""A MkDocs plugin: a page's model tables, diagrams and layer reference are made from
the specs when the site is built, so the docs never drift from them.

    # mkdocs.yml                      # a page
    plugins:                          ```netcalc
      - search                        spec: specs/alexnet.yaml
      - netcalc                       show: [table, diagram]    # optional; the default
                                      depth: 2                  # optional
                                      repeats: once             # optional: all (default)
                                      ```

A ```netcalc block becomes the model's summary table (markdown, with its totals) and
its diagram (inline SVG; Graphviz's `dot` draws it). ```netcalc-layers becomes the
reference of every layer type in the registry: arguments, defaults, and a worked
example in English and Chinese. Spec paths are relative to mkdocs.yml's directory. A
spec netcalc rejects fails the build with netcalc's located error. Blocks inside
another fence (```` or ~~~) are left as they are, so a page can show the syntax.

Only MkDocs imports this module (the `mkdocs.plugins` entry point in pyproject.toml);
netcalc itself never imports mkdocs.
"""

from __future__ import annotations

import json
import os
import re

from mkdocs.config import config_options
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

SHOWABLE = ("table", "diagram")
_OPEN = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^\s`]*)")


class NetcalcPlugin(BasePlugin):
    """Replaces ```netcalc and ```netcalc-layers fenced blocks when a page is built."""

    config_scheme = (
        # the examples in the layer reference: none needs Graphviz
        ("layer_examples", config_options.Type(bool, default=True)),
    )

    def on_config(self, config):
        self.root = os.path.dirname(os.path.abspath(config.config_file_path or "mkdocs.yml"))
        self._reference: str | None = None
        return config

    def on_page_markdown(self, markdown: str, page, config, files) -> str:
        return replace_blocks(markdown, lambda kind, body, line: self._block(kind, body),
                              page.file.src_uri)

    def _block(self, kind: str, body: str) -> str:
        if kind == "netcalc-layers":
            if self._reference is None:
                self._reference = layer_reference(self.config["layer_examples"])
            return self._reference
        options = _options(body)
        spec = os.path.join(self.root, options["spec"])
        if not os.path.relpath(spec).startswith(".."):
            spec = os.path.relpath(spec)       # errors name it as the reader knows it
        return model_markdown(spec, options["show"],
                              options["depth"], options["repeats"])


def replace_blocks(markdown: str, make, where: str = "<page>") -> str:
    """The page with each ```netcalc / ```netcalc-layers block (at the top level, not
    inside another fence) replaced by make(kind, body, line)."""
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        fence, info = match["fence"], match["info"]
        end = i + 1
        while end < len(lines) and not (lines[end].startswith(fence[0] * len(fence))
                                        and not lines[end].strip(fence[0]).strip()):
            end += 1
        if end == len(lines):
            if info in ("netcalc", "netcalc-layers"):
                raise PluginError(f"netcalc: {where}:{i + 1}: the ```{info} block is "
                                  "never closed")
            out.extend(lines[i:])
            break
        if info in ("netcalc", "netcalc-layers") and fence == "```":
            from .errors import NetcalcError
            try:
                out.append(make(info, "\n".join(lines[i + 1:end]), i + 1).rstrip("\n"))
            except (PluginError, NetcalcError) as error:
                # where the block is, then netcalc's own `spec:line:col: error: ...`
                raise PluginError(f"netcalc: {where}:{i + 1}: {error}") from None
        else:
            out.extend(lines[i:end + 1])
        i = end + 1
    return "\n".join(out)


def _options(body: str) -> dict:
    import yaml

    try:
        data = yaml.safe_load(body) if body.strip() else None
    except yaml.YAMLError as error:
        raise PluginError(f"the block is not YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("spec"), str):
        raise PluginError("a ```netcalc block names its spec: `spec: specs/model.yaml`")
    unknown = sorted(set(data) - {"spec", "show", "depth", "repeats"})
    if unknown:
        raise PluginError(f"unknown key {unknown[0]!r} in a ```netcalc block "
                          "(spec, show, depth, repeats)")
    show = data.get("show", list(SHOWABLE))
    show = [show] if isinstance(show, str) else show
    if not isinstance(show, list) or not show or any(item not in SHOWABLE for item in show):
        raise PluginError(f"show: {json.dumps(show)}: a list of {', '.join(SHOWABLE)}")
    depth = data.get("depth")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool)
                              or depth < 1):
        raise PluginError(f"depth: {json.dumps(depth)}: a whole number, at least 1")
    repeats = data.get("repeats", "all")
    if repeats not in ("all", "once"):
        raise PluginError(f"repeats: {json.dumps(repeats)}: all or once")
    return {"spec": data["spec"], "show": tuple(show), "depth": depth, "repeats": repeats}


def model_markdown(spec: str, show: tuple[str, ...] = SHOWABLE, depth: int | None = None,
                   repeats: str = "all") -> str:
    """What a ```netcalc block becomes: the spec's table and/or diagram."""
    from .analyze import analyze
    from .render import dot, site
    from .spec import load_spec

    summary = analyze(load_spec(spec), depth=depth)
    svg = None
    if "diagram" in show:
        svg = dot.to_image(dot.render(summary, dot.DiagramOptions(depth=depth, repeats=repeats)),
                           "svg")
    return site.model_block(summary, svg, show)


# The values a small example of each layer type gets for its required arguments, by
# the argument's name (what the registry's schema calls it), and the inputs tried.
_EXAMPLE_VALUES = {
    "out_channels": 4, "kernel_size": 3, "padding": 1, "dim": 1, "output_size": 2,
    "value": 0.0, "shape": [4], "hidden_size": 4, "num_heads": 2, "num_embeddings": 10,
    "embedding_dim": 4, "hidden_features": 8, "normalized_shape": 8, "threshold": 0.1,
    "function": "exp", "op": "mul", "other": 2.0, "nhead": 2, "p": 0.1, "out_features": 4,
    "num_experts": 4, "top_k": 2, "num_groups": 2, "size": 2, "chunks": 2, "start": 0,
    "length": 2, "dims": [0, 2, 1], "index": 0, "split_size_or_sections": [4, 4], "dim0": 1,
    "dim1": 2, "unflattened_size": [2, 4], "upscale_factor": 2, "downscale_factor": 2,
}
_EXAMPLE_OPTIONAL = {"scale_factor": 2}       # upsample: one of size and scale_factor
_EXAMPLE_OTHERWISE = {"shape": [-1], "size": [1, 4, 8, 8]}    # reshape, view; expand
_EXAMPLE_INPUTS = ([4, 8, 8], [4, 8], [8], [4, 4, 4, 4], {"shape": [8], "dtype": "int64"})


def layer_reference(examples: bool = True) -> str:
    """The reference of every registered layer type (site.layer_reference renders it):
    each type's worked example is a one-layer spec netcalc analyzes and explains."""
    from .layers.registry import all_types, catalog
    from .render import site

    entries = catalog()
    types = all_types()
    docs = {e["type"]: types[e["type"]].__doc__ or "" for e in entries}
    # a dataclass without a docstring gets its signature as one: not prose
    docs = {name: doc for name, doc in docs.items()
            if not doc.startswith(types[name].__name__ + "(")}
    worked = {}
    if examples:
        for entry in entries:
            found = _example(entry)
            if found:
                worked[entry["type"]] = found
    return site.layer_reference(entries, worked, docs)


def _example(entry: dict):
    """(spec text, working) of a small layer of this type that netcalc accepts, or None."""
    from .analyze import analyze
    from .errors import NetcalcError
    from .spec import parse_spec
    from .working import explain_layers

    names = {a["name"] for a in entry["arguments"]}
    args = {a["name"]: _EXAMPLE_VALUES[a["name"]] for a in entry["arguments"]
            if a["required"] and a["name"] in _EXAMPLE_VALUES}
    if any(a["required"] and a["name"] not in args for a in entry["arguments"]):
        return None
    attempts = [args, {**args, **{k: v for k, v in _EXAMPLE_OPTIONAL.items() if k in names}},
                {**args, **{k: v for k, v in _EXAMPLE_OTHERWISE.items() if k in args}}]
    for arguments in attempts:
        for shape in _EXAMPLE_INPUTS:
            for count in (1, 2, 3):
                layer = {"type": entry["type"], "name": entry["type"], **arguments}
                if count == 1:
                    head = f"input: {json.dumps(shape)}"
                else:
                    names_in = ["a", "b", "c"][:count]
                    head = "inputs: {" + ", ".join(f"{n}: {json.dumps(shape)}"
                                                   for n in names_in) + "}"
                    layer = {**layer, "inputs": names_in}
                text = (f"{head}\nlayers:\n  - "
                        + json.dumps(layer).replace('"', "") + "\n")
                try:
                    spec = parse_spec(text, f"<{entry['type']} example>")
                    summary = analyze(spec)
                    return text, explain_layers(spec, summary)[0]
                except NetcalcError:
                    continue
    return None
