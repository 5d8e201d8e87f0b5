"""The JSONPath subset, as data: path, document, expected values."""

import pytest

from labs.jsonpath import JsonPathError, jsonpath_compile, jsonpath_find

POD = {
    "metadata": {"name": "kuard", "labels": {"app": "kuard", "app.kubernetes.io/name": "x"}},
    "spec": {
        "containers": [
            {"name": "kuard", "image": "k:1", "ports": [{"containerPort": 8080, "name": "http"}]},
            {"name": "side", "image": "s:2"},
        ]
    },
    "status": {"conditions": [{"type": "Ready", "status": "True"}]},
}

CASES = [
    (".metadata.name", ["kuard"]),
    ("metadata.name", ["kuard"]),
    ("$.metadata.name", ["kuard"]),
    ("{.metadata.name}", ["kuard"]),
    (".spec.containers[0].image", ["k:1"]),
    (".spec.containers[-1].name", ["side"]),
    (".spec.containers[5].name", []),
    (".spec.containers[*].name", ["kuard", "side"]),
    (".metadata.labels.*", ["kuard", "x"]),
    (".metadata.labels['app.kubernetes.io/name']", ["x"]),
    ('.metadata.labels["app"]', ["kuard"]),
    ('.spec.containers[?(@.name=="side")].image', ["s:2"]),
    (".spec.containers[?(@.name=='kuard')].ports[0].containerPort", [8080]),
    ('.spec.containers[?(@.name!="kuard")].name', ["side"]),
    (".spec.containers[0].ports[?(@.containerPort==8080)].name", ["http"]),
    ('.spec.containers[0].ports[?(@.containerPort=="8080")].name', ["http"]),
    ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
    (".spec.missing.deeper", []),
    (".metadata.name.length", []),
    (".spec.containers.name", []),
]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_find(path: str, expected: list[object]) -> None:
    assert jsonpath_find(path, POD) == expected


@pytest.mark.parametrize(
    "path",
    [
        "",
        "{}",
        "..spec",
        ".spec..name",
        ".spec[",
        ".spec[?(@.a>1)]",
        "spec[abc]",
        ".a b",
        "[?(@==1)]",
        "." + "a" * 600,
    ],
)
def test_bad_paths_are_rejected_with_a_position(path: str) -> None:
    with pytest.raises(JsonPathError):
        jsonpath_compile(path)


def test_odd_documents_never_raise() -> None:
    for document in (None, 3, "text", [], [1, [2]], {"spec": None}, {"spec": {"containers": "x"}}):
        assert jsonpath_find(".spec.containers[0].name", document) == []
        assert jsonpath_find('.spec.containers[?(@.name=="x")]', document) == []
