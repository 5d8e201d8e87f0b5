"""Where every key and item of a lab.yaml is: one walk over the composed YAML builds the table
from field path to line that problems look up, and refuses on the way what a plain load would
hide or choke on: duplicate keys (YAML silently keeps the last) and anchors that expand to more
than ``MAX_NODES`` values."""

from __future__ import annotations

from typing import Any

import yaml

from labs.messages import Msg
from labs.messages import gettext_noop as _
from labs.spec.problems import Path_, Problem, SpecError, _dotted
from tutorials.yamlpos import node_line

MAX_NODES = 20_000


def _node_positions(root: yaml.Node, file: str) -> dict[Path_, int]:
    """Line numbers of every key and item; rejects duplicate keys and alias bombs."""
    positions: dict[Path_, int] = {(): node_line(root)}
    budget = [MAX_NODES]
    stack: list[tuple[yaml.Node, Path_]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise SpecError(
                [
                    Problem(
                        file,
                        None,
                        "",
                        Msg.of(_("the spec expands to more than {n} values"), n=MAX_NODES),
                        Msg.of(_("split the lab, or stop reusing large anchors (&name / *name)")),
                    )
                ]
            )
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                line = node_line(key_node)
                if key is not None:
                    if key in seen:
                        raise SpecError(
                            [
                                Problem(
                                    file,
                                    line,
                                    _dotted((*path, key)),
                                    Msg.of(
                                        _("duplicate key {key} (first on line {line})"),
                                        key=repr(key),
                                        line=seen[key],
                                    ),
                                    Msg.of(
                                        _("keep one of them; YAML would silently drop the first")
                                    ),
                                )
                            ]
                        )
                    seen[key] = line
                    positions[(*path, key)] = line
                    stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                positions[(*path, index)] = node_line(item)
                stack.append((item, (*path, index)))
    return positions
