"""Setting a digest-pinned image in kustomize, Helm and plain YAML text, layout kept."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from relgate.deploy.config import GitopsDeployerSpec
from relgate.deploy.gitops import fence_key
from relgate.deploy.gitops_manifest import (
    MAX_MANIFEST_BYTES,
    ImageRef,
    ManifestError,
    parse_reference,
    pins,
    set_image,
)

DIGEST = "sha256:" + "a" * 64
REF = ImageRef(name="registry.example/payments", digest=DIGEST)


def spec(**fields: Any) -> GitopsDeployerSpec:
    return GitopsDeployerSpec.model_validate(
        {"type": "gitops", "repository": "/srv/config.git", "file": "m.yaml", **fields}
    )


def test_a_reference_is_split_into_name_and_digest_and_a_tag_before_it_is_dropped() -> None:
    assert parse_reference(f"registry.example:5000/payments:1.4@{DIGEST}") == ImageRef(
        "registry.example:5000/payments", DIGEST
    )
    assert parse_reference("registry.example/payments:1.4") is None
    assert parse_reference("registry.example/payments@sha256:abc") is None


def test_a_kustomization_without_images_gets_an_entry() -> None:
    text = "resources:\n- base\n"

    out = set_image(text, spec(format="kustomize", image="payments"), REF)

    assert out == (
        "resources:\n- base\nimages:\n- name: payments\n"
        f"  newName: registry.example/payments\n  digest: {DIGEST}\n"
    )


def test_a_kustomize_entry_named_as_the_image_needs_no_new_name() -> None:
    text = "images:\n  - name: registry.example/payments  # app\n    newTag: '1.0'\n"

    out = set_image(text, spec(format="kustomize", image="registry.example/payments"), REF)

    assert out == f"images:\n  - name: registry.example/payments  # app\n    digest: {DIGEST}\n"
    assert out is not None and pins(out, spec(format="kustomize", image=REF.name), REF)


def test_a_key_path_selects_a_container_by_name_and_keeps_the_quoting() -> None:
    text = (
        "spec:\n  containers:\n    - name: proxy\n      image: envoy\n"
        "    - name: app\n      image: 'old:1'   # the app\n"
    )

    out = set_image(text, spec(format="yaml", key="spec.containers[name=app].image"), REF)

    assert out == (
        "spec:\n  containers:\n    - name: proxy\n      image: envoy\n"
        f"    - name: app\n      image: '{REF.reference}'   # the app\n"
    )


def test_missing_helm_keys_are_created() -> None:
    out = set_image("replicas: 2\n", spec(format="helm", digest_key="image.digest"), REF)

    assert out == f"replicas: 2\nimage:\n  digest: {DIGEST}\n"


def test_the_same_image_again_is_no_change() -> None:
    text = f"image: {REF.reference}\n"

    assert set_image(text, spec(format="helm", key="image"), REF) is None


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("a: [1\n", {"format": "helm", "key": "image"}, "m.yaml is not valid YAML: line 2"),
        ("- a\n", {"format": "helm", "key": "image"}, "m.yaml must hold a mapping at its top"),
        ("image: {x: 1}\n", {"format": "helm", "key": "image"}, "holds a mapping or a list"),
        ("images: x\n", {"format": "kustomize", "image": "app"}, "images must be a list"),
        (
            "c: [{name: a}]\n",
            {"format": "yaml", "key": "c[name=b].image"},
            "no list item has name: b",
        ),
        ("c: []\n", {"format": "yaml", "key": "c[3].image"}, "there is no list item [3]"),
        ("a: 1\n---\nb: 2\n", {"format": "helm", "key": "image"}, "not valid YAML"),
    ],
)
def test_a_manifest_that_cannot_take_the_image_says_why(
    text: str, fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ManifestError) as caught:
        set_image(text, spec(**fields), REF)

    assert expected in str(caught.value)


def test_a_manifest_too_large_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(ManifestError) as caught:
        set_image("a: " + "x" * MAX_MANIFEST_BYTES, spec(format="helm", key="image"), REF)

    assert str(caught.value) == "m.yaml is larger than 1024 KiB"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"format": "kustomize"}, "format kustomize needs `image`"),
        ({"format": "helm", "key": "image", "digest_key": "d"}, "either `key`"),
        ({"format": "helm", "repository_key": "r", "key": "k"}, "goes with `digest_key`"),
        ({"format": "yaml", "key": "a..b"}, "is not a key path"),
        ({"format": "helm", "key": "k", "file": "a/../../b"}, "must be a file path inside"),
        ({"format": "helm", "key": "k", "file": ".git/config"}, "not in .git"),
        ({"format": "helm", "key": "k", "branch": "main..x"}, "is not a branch name"),
        ({"format": "helm", "key": "k", "repository": "--upload-pack=x"}, "not a repository"),
        ({"format": "helm", "key": "k", "author_name": "a\nb"}, "cannot be a commit author"),
    ],
)
def test_a_spec_that_names_nothing_to_set_or_a_hostile_path_is_refused(
    fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(**fields)

    assert expected in str(caught.value)


def test_fences_order_by_deployment_then_attempt() -> None:
    assert fence_key("12.3") == (12, 3)
    assert fence_key("12") == (12, 0)
    assert fence_key("dep-42") is None
    assert fence_key("9.9") < fence_key("10.1")  # type: ignore[operator]


def test_a_manifest_nested_thousands_deep_is_refused_not_a_crash() -> None:
    text = "image: " + "[" * 400_000 + "]" * 400_000 + "\n"

    with pytest.raises(ManifestError) as caught:
        set_image(text, spec(format="helm", key="image"), REF)

    assert str(caught.value) == "m.yaml is nested too deeply to edit"


def test_a_manifest_indented_hundreds_of_levels_is_refused() -> None:
    text = (
        "".join(" " * level + f"k{level}:\n" for level in range(0, 1200, 2)) + " " * 1200 + "x: 1\n"
    )

    with pytest.raises(ManifestError) as caught:
        set_image(text, spec(format="helm", key="image"), REF)

    assert str(caught.value) == "m.yaml is nested too deeply to edit"
