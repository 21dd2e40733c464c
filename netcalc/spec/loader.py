"""YAML -> plain dicts and lists that remember where each key and item was.

Built on `yaml.SafeLoader`: no tag can construct a Python object. Scalars
can't carry positions, so their parent does: `d.key_loc[k]`, `d.value_loc[k]`,
`seq.item_loc[i]` (the approach of cfn-lint's `dict_node`).
"""

from __future__ import annotations

import re

import yaml

from ..errors import Location, Note, SpecError, shorten

# PyYAML reads about 0.3 MB a second: a bigger spec is refused rather than read.
MAX_FILE_BYTES = 2 * 1024 * 1024
# Aliases let a few lines describe a huge tree (the "billion laughs" bomb):
# count the nodes as if every alias were written out, and refuse early.
MAX_EXPANDED_NODES = 1_000_000
# A real spec nests a handful of levels (layers -> item -> argument -> list). The
# limit is netcalc's, below any YAML library's own (libyaml 0.2.6 stops at 1,000,
# PyYAML's composer at Python's recursion limit), so the verdict and its message
# do not change with the library's version.
MAX_NESTING = 100


class LocatedDict(dict):
    loc: Location
    key_loc: dict
    value_loc: dict

    def where(self, key) -> Location:
        """The value's location, else the key's, else the mapping's."""
        return self.value_loc.get(key) or self.key_loc.get(key) or self.loc

    def locations(self) -> dict:
        """Each key's `where`, made once: a document is never changed once read, and every
        copy of a block's layer shares its entry's."""
        made = self.__dict__.get("_locations")
        if made is None:
            made = self._locations = {key: self.where(key) for key in self}
        return made


class LocatedList(list):
    loc: Location
    item_loc: list

    def where(self, index: int) -> Location:
        return self.item_loc[index] if index < len(self.item_loc) else self.loc


def located(value, loc: Location):
    """Plain data as Located containers with every part at `loc` (for a Python
    spec, the call that gave it); tuples become lists, as YAML writes them."""
    if isinstance(value, dict):
        data = LocatedDict((key, located(item, loc)) for key, item in value.items())
        data.loc, data.key_loc, data.value_loc = loc, dict.fromkeys(data, loc), \
            dict.fromkeys(data, loc)
        return data
    if isinstance(value, (list, tuple)):
        data = LocatedList(located(item, loc) for item in value)
        data.loc, data.item_loc = loc, [loc] * len(data)
        return data
    return value


def location(file: str, mark) -> Location:
    # PyYAML marks are 0-based; ours are 1-based, like compilers'.
    return Location(file, mark.line + 1, mark.column + 1)


class _Constructor:
    """Located containers and plain values only, whichever parser composed the nodes."""

    file = "<spec>"

    def _loc(self, node) -> Location:
        return location(self.file, node.start_mark)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError):
            # PyYAML's constructors fail so on a value that its explicit tag does not fit
            # (`!!bool maybe`, `!!timestamp 2020-13-45`, `!!float`)
            value = shorten(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise SpecError(f"{value} cannot be read as YAML's {_tag(node)}",
                            self._loc(node)) from None

    def _check_kind(self, node, kind, what: str) -> None:
        if not isinstance(node, kind):       # `!!map [1]`, `!!seq x`
            raise SpecError(f"YAML tag '{_tag(node)}' is for {what}", self._loc(node))

    def construct_located_map(self, node):
        self._check_kind(node, yaml.MappingNode, "a mapping")
        data = LocatedDict()
        data.loc, data.key_loc, data.value_loc = self._loc(node), {}, {}
        yield data
        own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
        self.flatten_mapping(node)  # YAML merge keys (`<<: *base`) come first; own keys override
        merged = len(node.value) - own
        own_keys = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise SpecError("a mapping key must be a plain value, not a list or mapping",
                                self._loc(key_node)) from None
            if index >= merged:
                if key in own_keys:
                    # a second `type:` in one entry is most often a layer whose '- ' is missing
                    hint = ("; a new layer starts with '- '" if key in ("type", "name")
                            else "")
                    raise SpecError(f"duplicate key '{key}' (first given at "
                                    f"{data.key_loc[key]}){hint}", self._loc(key_node))
                own_keys.add(key)
            data[key] = self.construct_object(value_node, deep=True)
            data.key_loc[key] = self._loc(key_node)
            data.value_loc[key] = self._loc(value_node)

    def construct_located_seq(self, node):
        self._check_kind(node, yaml.SequenceNode, "a list")
        data = LocatedList()
        data.loc = self._loc(node)
        data.item_loc = [self._loc(child) for child in node.value]
        yield data
        data.extend(self.construct_object(child, deep=True) for child in node.value)

    def construct_yaml_int(self, node):
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            if not node.value.lstrip("+-").replace("_", "").isdigit():
                raise            # `!!int abc`: construct_object says so
            # Python refuses to parse integers of thousands of digits
            raise SpecError("integer literal too large", self._loc(node)) from None

    def construct_unknown(self, node):
        raise SpecError(f"YAML tag '{_tag(node)}' is not allowed: a spec is plain data "
                        "(mappings, lists, numbers and strings)", self._loc(node))


def _tag(node) -> str:
    return node.tag.replace("tag:yaml.org,2002:", "!!")


class _Composer(yaml.composer.Composer):
    """PyYAML's composer, in Python for both parsers (libyaml's own composes
    recursively in C: deep enough nesting overflowed the stack and killed the
    process), counting nodes and nesting as it goes."""

    nodes = 0
    depth = 0

    def compose_node(self, parent, index):
        self.nodes += 1
        if self.nodes > MAX_EXPANDED_NODES:
            raise SpecError(f"the spec has more than {MAX_EXPANDED_NODES:,} YAML nodes; "
                            "refusing to read it",
                            location(self.file, self.peek_event().start_mark))
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise SpecError(f"the spec is nested more than {MAX_NESTING} levels deep here "
                            "(lists and mappings inside each other)",
                            location(self.file, self.peek_event().start_mark))
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _PythonLoader(_Constructor, _Composer, yaml.SafeLoader):
    """PyYAML's parser, in Python: for its messages, or where there is no libyaml."""


if yaml.__with_libyaml__:
    class _LibyamlLoader(_Constructor, _Composer, yaml.cyaml.CParser,
                         yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml's scanner and parser, ~5 times faster than PyYAML's, with the
        composer and constructors above."""

        def __init__(self, text: str):
            yaml.cyaml.CParser.__init__(self, text)
            _Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:
    _LibyamlLoader = None

for _loader in filter(None, (_PythonLoader, _LibyamlLoader)):
    _loader.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_located_map)
    _loader.add_constructor("tag:yaml.org,2002:seq", _Constructor.construct_located_seq)
    _loader.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
    _loader.add_constructor(None, _Constructor.construct_unknown)


def _expanded_size(node, file: str) -> int:
    """Number of nodes with every alias written out, held to the limits on nodes and
    on nesting: an alias can put one anchored tree inside another, or inside itself."""
    nodes_and_height: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()      # being counted: an alias to one of them is a cycle

    def too_deep(n) -> SpecError:
        return SpecError(f"through its aliases the spec is nested more than {MAX_NESTING} "
                         "levels deep here", location(file, n.start_mark))

    def size(n, depth: int) -> tuple[int, int]:
        if id(n) in nodes_and_height:
            nodes, height = nodes_and_height[id(n)]
            if depth + height - 1 > MAX_NESTING:
                raise too_deep(n)
            return nodes, height
        if depth > MAX_NESTING:
            raise too_deep(n)
        if id(n) in open_nodes:
            raise SpecError("an alias here stands for a list or mapping that contains it: "
                            "the spec would be infinite", location(file, n.start_mark))
        if isinstance(n, yaml.MappingNode):
            children = [child for pair in n.value for child in pair]
        elif isinstance(n, yaml.SequenceNode):
            children = n.value
        else:
            children = []
        open_nodes.add(id(n))
        counted = [size(child, depth + 1) for child in children]
        open_nodes.discard(id(n))
        nodes = 1 + sum(child_nodes for child_nodes, _ in counted)
        if nodes > MAX_EXPANDED_NODES:
            raise SpecError(f"through its aliases the spec would expand to more than "
                            f"{MAX_EXPANDED_NODES:,} YAML nodes; refusing to load it",
                            location(file, n.start_mark))
        nodes_and_height[id(n)] = nodes, 1 + max((h for _, h in counted), default=0)
        return nodes_and_height[id(n)]

    return size(node, 1)[0]


def _offset_location(text: str, offset: int, file: str) -> Location:
    line_start = text.rfind("\n", 0, offset) + 1
    return Location(file, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def load_yaml(text: str, file: str):
    """Parse one YAML document into Located containers, or raise SpecError."""
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"the spec is {len(text):,} characters; the limit is "
                        f"{MAX_FILE_BYTES:,} (use blocks and repeat)", Location(file, 1, 1))
    unprintable = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if unprintable:
        raise SpecError(f"YAML does not allow the character U+{ord(unprintable.group()):04X}: "
                        "a spec holds printable characters, tabs and line breaks only",
                        _offset_location(text, unprintable.start(), file))
    try:
        if _LibyamlLoader is None:
            return _read(_PythonLoader, text, file)
        try:
            return _read(_LibyamlLoader, text, file)
        except yaml.YAMLError as libyaml_error:
            # PyYAML's parser words the same mistake better ("found undefined alias
            # 'x'"), and reaches netcalc's nesting limit where libyaml's scanner, looking
            # ahead, may meet its own first; where PyYAML accepts the text, libyaml's
            # word stands
            _read(_PythonLoader, text, file)
            raise libyaml_error from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "invalid YAML"
        loc = location(file, mark) if mark else Location(file, 1, 1)
        notes = ()
        if e.context and e.problem:
            context_loc = location(file, e.context_mark) if e.context_mark else None
            if context_loc and context_loc != loc:    # where the unclosed thing began
                notes = (Note(context_loc, e.context.replace("while ", "", 1) + " started here"),)
            else:
                problem = f"{problem} ({e.context})"
        hint = _yaml_hint(text, loc.line, problem) if mark else ""
        if not file.endswith((".yaml", ".yml")) and file not in ("<stdin>", "<string>",
                                                                  "<dict>", "<spec>"):
            hint = (f"{hint}; " if hint else "") + \
                f"is {file} a spec? netcalc reads YAML specs (.yaml) and Python specs (.py)"
        raise SpecError(f"YAML syntax: {problem}" + (f"; {hint}" if hint else ""), loc,
                        notes) from None
    except yaml.YAMLError as e:
        raise SpecError(f"YAML: {e}", Location(file, 1, 1)) from None


def _yaml_hint(text: str, line: int, problem: str) -> str:
    """The usual mistake behind YAML's message, in plain words: a tab, two pairs on one
    line, a line indented unlike the one above, a list entry's '-' indented into the
    entry before it. "" when the lines do not show one."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return ""
    here = lines[line - 1]
    stripped = here.lstrip(" ")
    if "'\\t'" in problem or stripped.startswith("\t"):
        return f"line {line} is indented with a tab: YAML indents with spaces only"
    if "mapping values" in problem and _TWO_PAIRS.search(stripped):
        return (f"line {line} holds two `key: value` pairs: give each its own line, or "
                "write the entry in braces ({type: conv2d, out_channels: 8})")
    indent = len(here) - len(stripped)
    earlier = [(n, text) for n, text in enumerate(lines[:line - 1], 1)
               if text.strip() and not text.lstrip().startswith("#")]
    if not earlier:
        return ""
    if stripped.startswith("-") and "'-'" in problem:
        entries = [(n, _indent(text)) for n, text in earlier
                   if text.lstrip().startswith("- ") and _indent(text) < indent]
        if entries:
            n, column = entries[-1]
            return (f"this '-' is indented {indent} spaces, into the entry above; the "
                    f"list's entries start at {column}, as line {n}'s does")
    above, text_above = earlier[-1]
    keys_at = _indent(text_above) + len(text_above.lstrip(" ")) - len(
        text_above.lstrip(" ").lstrip("- "))
    if indent != keys_at and not text_above.rstrip().endswith(":"):
        return (f"line {line} is indented {indent} spaces and line {above} above it "
                f"{keys_at}: keys of one entry line up, and a new list entry starts with '- '")
    return ""


_TWO_PAIRS = re.compile(r"^(- )?[\w.]+:\s.*\s[\w.]+:(\s|$)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _read(loader_class, text: str, file: str):
    loader = loader_class(text)
    loader.file = file
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError("the spec is empty", Location(file, 1, 1))
        _expanded_size(node, file)
        return loader.construct_document(node)
    finally:
        loader.dispose()
