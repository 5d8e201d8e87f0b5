"""Where in a YAML file something is, as the 1-based line an author sees in an editor: the line a
parse error points at, the line of a node, the line of the key or item a field path leads to;
for the loaders that report problems as ``file:line`` (lesson front matter, lab specs), which
word the problem and name the field themselves. The text may begin below the top of its file
(front matter starts after a ``---`` line), hence ``first_line``, the file line of the text's
first line. Pure: imports only ``yaml``, so ``labs`` may build on it."""

from __future__ import annotations

from collections.abc import Iterable

import yaml

__all__ = ["error_line", "node_line", "path_line"]


def error_line(error: yaml.YAMLError, *, first_line: int = 1) -> int | None:
    """The file line of a parse error: where the problem is, else where its context began;
    ``None`` for an error without a position (a reader error has none)."""
    # Only MarkedYAMLError has marks; the loaders catch YAMLError too, hence getattr.
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return mark.line + first_line if mark is not None else None


def node_line(node: yaml.Node, *, first_line: int = 1) -> int:
    """The file line a node (a key, a value, an item) starts on."""
    return node.start_mark.line + first_line


def path_line(
    root: yaml.Node, path: Iterable[str | int], *, first_line: int = 1, default: int
) -> int:
    """The file line of the deepest key or item on ``path`` (a pydantic error's ``loc``) that the
    document has, so an unknown or missing field points at its parent; ``default`` when the
    document lacks even the first step. Of duplicate keys the first one counts."""
    line = default
    current = root
    for part in path:
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if key.value == part:
                    line = node_line(key, first_line=first_line)
                    current = value
                    break
            else:
                return line
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and part < len(current.value)
        ):
            current = current.value[part]
            line = node_line(current, first_line=first_line)
        else:
            return line
    return line
