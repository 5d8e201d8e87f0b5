"""Change one text value of a lab.yaml in place (pure): the studio's Markdown editor writes an
exercise's instructions back into the spec as a literal block, and every other byte of the
author's YAML (comments, order, quoting) stays as it was."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


class EditError(ValueError):
    pass


def _node_at(root: yaml.Node, path: Sequence[str | int]) -> tuple[yaml.Node, yaml.Node | None]:
    """The value node at ``path`` and the key node it belongs to (None for a list item)."""
    node, key_node = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    node, key_node = value, key
                    break
            else:
                raise EditError(f"no `{part}` in the spec")
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                raise EditError(f"no item {part}")
            node, key_node = node.value[part], None
        else:
            raise EditError(f"the spec has no {part!r} there")
    return node, key_node


def literal_block(text: str, indent: int) -> str:
    """``text`` as a YAML literal block scalar whose lines are indented by ``indent`` spaces,
    reading back exactly as ``text``."""
    body = text.replace("\r\n", "\n")
    if not body:
        return '""'
    chomp = "" if body.endswith("\n") and not body.endswith("\n\n") else "-"
    if body.endswith("\n\n"):
        chomp = "+"
    lines = body[:-1].split("\n") if body.endswith("\n") else body.split("\n")
    # A first line that starts with a space needs the indentation said explicitly: the block's
    # lines sit two spaces deeper than their key.
    indicator = "2" if lines and lines[0].startswith(" ") else ""
    if body.endswith("\n\n"):
        lines = body.split("\n")[:-1]
    pad = " " * indent
    block = "\n".join(pad + line if line else "" for line in lines)
    return f"|{indicator}{chomp}\n{block}"


def text_set(spec: str, path: Sequence[str | int], text: str) -> str:
    """The spec with the scalar at ``path`` (e.g. ("exercises", 0, "instructions", "en"))
    replaced by ``text`` as a literal block. EditError when the path is not a text value."""
    try:
        root = yaml.compose(spec, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise EditError(f"the spec is not valid YAML yet: {exc}") from None
    if root is None:
        raise EditError("the spec is empty")
    node, key_node = _node_at(root, path)
    if not isinstance(node, yaml.ScalarNode) or key_node is None:
        raise EditError("that is not a text value")
    indent = key_node.start_mark.column + 2
    start, end = node.start_mark.index, node.end_mark.index
    rest = spec[end:]
    # A block scalar's end mark is past its last line break (and any blank lines after it); a
    # plain or quoted one's is right after its last character.
    if node.style in ("|", ">"):
        rest = "\n" + rest.lstrip("\n") if rest.strip() else "\n"
    replaced = spec[:start] + literal_block(text, indent) + rest
    value: object = yaml.safe_load(replaced)
    for part in path:
        value = value[part]  # type: ignore[index]
    if value != text.replace("\r\n", "\n"):
        raise EditError("the text could not be written back exactly")
    return replaced
