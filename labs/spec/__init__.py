"""Lab specs: the pydantic models of `labs/catalog/<slug>/lab.yaml` and a loader whose errors name
the file, the line, the field and the fix.

Pure: imports neither Django nor ``kubernetes``. ``catalog_load()`` returns every lab or raises
``SpecError`` listing every problem of every lab, for example::

    labs/catalog/pods/lab.yaml:31: exercises[0].checks[2].type: unknown check type 'exist'.
      Fix: use one of absent, annotation, count, exists, field, job, label, owner, ready,
      script, service_selects, pods_on_nodes.

Layout of a lab directory::

    lab.yaml         title, chapter, solution policy, exercises (instructions, hints, checks,
                     setup, solution, near misses)
    files/           manifests and scripts that setup, solutions and near misses use; commands
                     refer to them by bare file name (they run in a copy of this folder)

The package, one job per module (names with a leading underscore are private to it)::

    fields.py        value types: text in each language, slugs, names, kinds, selectors, paths
    schema.py        the models: checks, steps, near misses, exercises, labs
    problems.py      Problem and SpecError; a pydantic error as file, line, field and fix
    positions.py     the line of every key and item; duplicate keys and alias bombs refused
    crosschecks.py   what spans fields: ids, file references, commands, manifests in files/
    loading.py       lab_parse, lab_load, catalog_load and the Catalog they build
"""

from labs.spec.loading import (
    CATALOG_DIR,
    MAX_SPEC_BYTES,
    Catalog,
    catalog_load,
    lab_load,
    lab_parse,
    lab_parse_with_files,
)
from labs.spec.problems import Problem, SpecError
from labs.spec.schema import (
    AbsentCheck,
    AnnotationCheck,
    Check,
    CountCheck,
    Exercise,
    ExistsCheck,
    FieldCheck,
    JobCheck,
    Lab,
    LabelCheck,
    NearMiss,
    OwnerCheck,
    PodsOnNodesCheck,
    ReadyCheck,
    ScriptCheck,
    ServiceSelectsCheck,
    Steps,
)

# What modules outside the package import from labs.spec, and what the single module's
# __all__ listed (NearMiss, Problem), so `from labs.spec import X` works as it did.
__all__ = [
    "CATALOG_DIR",
    "MAX_SPEC_BYTES",
    "AbsentCheck",
    "AnnotationCheck",
    "Catalog",
    "Check",
    "CountCheck",
    "Exercise",
    "ExistsCheck",
    "FieldCheck",
    "JobCheck",
    "Lab",
    "LabelCheck",
    "NearMiss",
    "OwnerCheck",
    "PodsOnNodesCheck",
    "Problem",
    "ReadyCheck",
    "ScriptCheck",
    "ServiceSelectsCheck",
    "SpecError",
    "Steps",
    "catalog_load",
    "lab_load",
    "lab_parse",
    "lab_parse_with_files",
]
