"""`stdlib_only`: the given packages import the standard library and the allowed modules, and
nothing else. A rule rather than a list of forbidden names: a new dependency anywhere else in
kubelab cannot slip into code that runs under the system Python (the pod builder, the demo app,
the jail kit) without breaking this contract."""

from __future__ import annotations

import sys
from typing import cast

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _within(module: str, packages: set[str]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


class StdlibOnlyContract(Contract):
    type_name = "stdlib_only"

    source_modules = fields.ListField(subfield=fields.StringField())
    allowed_modules = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        # Fields are descriptors; on an instance they hold the parsed lists.
        sources = {str(m) for m in cast("list[str]", self.source_modules)}
        allowed = sources | {str(m) for m in cast("list[str]", self.allowed_modules or [])}
        broken: list[tuple[str, str, list[int]]] = []
        for source in sorted(sources):
            modules = {source} | graph.find_descendants(source)
            for module in sorted(modules):
                for imported in sorted(graph.find_modules_directly_imported_by(module)):
                    if imported.split(".")[0] in sys.stdlib_module_names:
                        continue
                    if _within(imported, allowed):
                        continue
                    details = graph.get_import_details(importer=module, imported=imported)
                    broken.append((module, imported, [d["line_number"] for d in details]))
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for module, imported, lines in check.metadata["broken"]:
            where = ", ".join(f"l.{n}" for n in lines)
            output.print_error(
                f"{module} imports {imported} ({where}): neither the standard library nor allowed"
            )
            output.new_line()
