"""Feature extraction: outputs chosen among inner nodes leave out the part of the network they do
not need, with a note instead of errors, and the models return exactly those tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import archspec

torch = pytest.importorskip("torch")
bt = pytest.importorskip("archspec.backends.torch")

STAGES = ["mixed_5e", "mixed_6e", "mixed_7c"]


def test_outputs_of_inner_nodes_drop_the_rest_with_a_note(tmp_path: Path) -> None:
    spec_file = tmp_path / "features.yaml"
    spec_file.write_text("archspec: 1\nextends: archspec:inception_v4.yaml\noutputs: [mixed_6a/concat_0]\n")
    spec = archspec.load(spec_file)
    full = archspec.load("inception_v4")
    assert spec.outputs == ("mixed_6a/concat_0",)
    assert spec.output_shape == full.shapes["mixed_6a/concat_0"] == (17, 17, 1024)
    assert "head/logits" not in spec.graph and "mixed_6b/concat_0" not in spec.graph
    assert set(spec.graph) < set(full.graph)
    assert spec.params == sum(full.costs[n].params for n in spec.graph)
    (note,) = spec.notes
    assert (note.severity, note.pos.line) == ("note", 3)
    dropped = len(full.graph) - len(spec.graph)
    assert f"{dropped} nodes that no output needs are left out" in note.message
    # The network's own output leaves nothing out, so it has no note.
    assert full.notes == ()


def test_build_with_features_returns_those_tensors_at_the_summary_s_shapes() -> None:
    spec = archspec.load("inception_v4")
    torch.manual_seed(0)
    full = bt.build(spec).eval()
    features = bt.build(spec, features=STAGES).eval()
    assert features.spec.outputs == tuple(f"{stage}/concat_0" for stage in STAGES)
    missing, unexpected = features.load_state_dict(full.state_dict(), strict=False)
    assert missing == [] and unexpected and all(k.startswith(("mixed_7d.", "head.")) for k in unexpected)
    seen: dict[str, torch.Tensor] = {}
    for stage in STAGES:
        getattr(full, stage).register_forward_hook(lambda m, a, out, stage=stage: seen.__setitem__(stage, out))
    x = torch.randn(1, 3, 299, 299, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        outputs = features(x)
        full(x)
    assert isinstance(outputs, tuple) and len(outputs) == len(STAGES)
    stated = {row["name"]: row["output_shape"] for row in features.spec.summary()["blocks"]}
    for stage, tensor in zip(STAGES, outputs, strict=True):
        height, width, channels = spec.shapes[f"{stage}/concat_0"]
        assert tuple(tensor.shape) == (1, channels, height, width)
        assert stated[stage] == [height, width, channels]
        assert torch.equal(tensor, seen[stage])


def test_keras_features_are_the_same_tensors() -> None:
    pytest.importorskip("keras")
    from archspec.backends import tensorflow as btf

    spec = archspec.load("examples/inception_v4_small", input_shape=(75, 75, 3))
    stages = ["mixed_5b", "mixed_6a"]
    torch_model = bt.build(spec, features=stages).eval()
    keras_model = btf.build(spec, features=stages)
    btf.set_weights(keras_model, bt.get_weights(torch_model), spec=torch_model.spec)
    x = torch.randn(2, 3, 75, 75, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = [t.permute(0, 2, 3, 1).numpy() for t in torch_model(x)]
    actual = [np.asarray(t) for t in keras_model(x.permute(0, 2, 3, 1).numpy(), training=False)]
    assert [a.shape for a in actual] == [e.shape for e in expected]
    for a, e in zip(actual, expected, strict=True):
        assert np.abs(a - e).max() <= 1e-4 * np.abs(e).max()


def test_without_chosen_outputs_an_unused_node_is_still_an_error() -> None:
    from archspec.errors import SpecError

    text = (
        "archspec: 1\ninput: {shape: 8x8x3}\nnetwork:\n"
        "  - {op: conv, name: unused, kernel: 1, filters: 4}\n"
        "  - {op: conv, input: input, kernel: 1, filters: 4}\n"
    )
    with pytest.raises(SpecError, match=r"<string>:4:5: error: node 'unused' does not lead to any output"):
        archspec.load(text)
    chosen = archspec.load(text + "outputs: [conv_0]\n")
    assert "unused" not in chosen.graph
    assert chosen.notes[0].message.startswith("1 node that no output needs is left out")


def test_features_only_and_feature_info_are_timm_s() -> None:
    spec = archspec.load("resnet50")
    model = bt.build(spec)
    # timm's resnet50 feature_info, stage by stage.
    assert [(f["num_chs"], f["reduction"]) for f in model.feature_info] == [
        (64, 2), (256, 4), (512, 8), (1024, 16), (2048, 32)
    ]  # fmt: skip
    assert [f["module"] for f in model.feature_info] == ["conv1", "layer1_2", "layer2_3", "layer3_5", "layer4_2"]
    small = archspec.load("examples/inception_v4_small", input_shape=(75, 75, 3))
    extractor = bt.build(small, features_only=True).eval()
    with torch.no_grad():
        maps = extractor(torch.zeros(1, 3, 75, 75))
    assert [tuple(m.shape[1:2]) for m in maps] == [(f["num_chs"],) for f in extractor.feature_info]
    assert "head.logits.weight" not in extractor.state_dict()


def test_a_step_cannot_take_the_name_of_a_network_attribute() -> None:
    from archspec.backends.torch.codegen import LIVE_ATTRIBUTES
    from archspec.backends.torch.live import Network

    own = {name for name in vars(Network) if not name.startswith("__")} - {"_abc_impl"}
    assert own <= set(LIVE_ATTRIBUTES)
    text = "archspec: 1\ninput: {shape: 8x8x3}\nnetwork:\n  - {op: conv, name: feature_info, kernel: 1, filters: 2}\n"
    model = bt.build(archspec.load(text))
    assert isinstance(model.feature_info, list) and "feature_info_.conv.weight" in model.state_dict()


def test_keras_include_top_false_ends_at_the_last_feature_map() -> None:
    pytest.importorskip("keras")
    from archspec.backends import tensorflow as btf

    spec = archspec.load("examples/inception_v4_small", input_shape=(75, 75, 3))
    model = btf.build(spec, include_top=False)
    last = [s for s in spec.steps if len(spec.shapes[s.output]) == 3][-1]
    assert tuple(model.output.shape[1:]) == spec.shapes[last.output]
    assert not any(layer.name.startswith("head") for layer in model.layers)


def test_pre_logits_and_reset_classifier_are_timm_s() -> None:
    from support import randomize_batch_norm

    from benchmarks.reference import import_timm

    try:
        timm = import_timm()
    except Exception as exc:  # an import that fails for any reason is this machine's, not archspec's
        pytest.skip(f"timm does not import here: {exc}")
    torch.manual_seed(0)
    theirs = timm.create_model("inception_v4", pretrained=False).eval()
    randomize_batch_norm(theirs, seed=2)
    ours = bt.build(archspec.load("inception_v4")).eval()
    bt.load_reference_weights(ours, theirs.state_dict(), source="timm")
    x = torch.randn(1, 3, 299, 299, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        features = ours.forward_features(x)
        pooled = ours.forward_head(features, pre_logits=True)
        expected = theirs.forward_head(theirs.forward_features(x), pre_logits=True)
        assert pooled.shape == (1, 1536)
        assert (pooled - expected).abs().max() <= 1e-4 * expected.abs().max()
        assert torch.equal(ours.head.logits(pooled), ours.forward_head(features))
        ours.reset_classifier(10)
        assert ours(x).shape == (1, 10) and ours.spec.output_shape == (10,)
        assert torch.equal(ours.forward_head(features, pre_logits=True), pooled)
        assert ours.spec.params == sum(p.numel() for p in ours.parameters())
        assert set(bt.get_weights(ours)) == set(bt.get_weights(bt.build(ours.spec)))
        ours.reset_classifier(0)
        assert torch.equal(ours(x), pooled) and ours.spec.output_shape == (1536,)
        assert ours.spec.params == sum(p.numel() for p in ours.parameters())


def test_pre_logits_of_a_top_level_dense_and_the_written_file(tmp_path: Path) -> None:
    from archspec.backends.torch.codegen import generate
    from support import load_generated

    spec = archspec.load("resnet50", input_shape=(64, 64, 3))
    model = bt.build(spec).eval()
    seen: list[torch.Tensor] = []
    model.fc.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        model(x)
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
    assert torch.equal(pooled, seen[0]) and pooled.shape == (2, 2048)
    written = load_generated(generate(spec), tmp_path / "resnet50.py").build().eval()
    written.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(written.forward_head(written.forward_features(x), pre_logits=True), pooled)


def test_features_is_always_a_tuple_and_build_takes_a_bundled_name_or_a_path() -> None:
    """One name or two, `features=` returns a tuple, as the README says; the model of the
    spec itself, of one output, returns its tensor. `build` loads what `archspec.load` takes."""
    small = {"input_shape": (107, 107, 3)}
    spec = archspec.load("inception_resnet_v2", **small)
    x = torch.zeros(1, 3, 107, 107)
    with torch.no_grad():
        one = bt.build(spec, features=["block17_2"]).eval()(x)
        two = bt.build(spec, features=["block17_2", "mixed_6a"]).eval()(x)
        stages = bt.build(spec, features_only=True).eval()(x)
    assert isinstance(one, tuple) and len(one) == 1 and tuple(one[0].shape[1:]) == (1088, 5, 5)
    assert isinstance(two, tuple) and len(two) == 2 and isinstance(stages, tuple)
    assert isinstance(bt.build("examples/inception_resnet_v2_tiny").eval()(torch.zeros(1, 3, 32, 32)), torch.Tensor)
    from archspec.bundled import spec_path

    by_name, by_path = bt.build("inception_resnet_v2"), bt.build(spec_path("inception_resnet_v2"))
    assert by_name.spec.params == by_path.spec.params == 55_843_464


def test_build_takes_timm_s_create_model_arguments() -> None:
    """num_classes (0: the pooled features) and out_indices, as `timm.create_model` takes them."""
    x = torch.randn(1, 3, 224, 224)
    ten = bt.build("resnet50", num_classes=10).eval()
    with torch.no_grad():
        assert ten(x).shape == (1, 10)
        assert bt.build("resnet50", num_classes=0).eval()(x).shape == (1, 2048)
    picked = bt.build("resnet50", features_only=True, out_indices=(1, -1)).eval()
    with torch.no_grad():
        shapes = [tuple(t.shape) for t in picked(x)]
    assert shapes == [(1, 256, 56, 56), (1, 2048, 7, 7)]
    assert [(f["num_chs"], f["reduction"]) for f in picked.feature_info] == [(256, 4), (2048, 32)]
    with pytest.raises(ValueError, match="has 5 stages"):
        bt.build("resnet50", features_only=True, out_indices=(5,))
    with pytest.raises(ValueError, match="features_only"):
        bt.build("resnet50", out_indices=(1,))


# timm's feature_info of its inception_v4 and inception_resnet_v2, stage by stage: (channels, reduction).
TIMM_STAGES = {
    "inception_v4": [(64, 2), (160, 4), (384, 8), (1024, 16), (1536, 32)],
    "inception_resnet_v2": [(64, 2), (192, 4), (320, 8), (1088, 16), (1536, 32)],
}


@pytest.mark.parametrize("name", sorted(TIMM_STAGES))
def test_inception_features_only_is_timm_s(name: str) -> None:
    """The stages reach into the stem, so feature_info is timm's, and the features_only model returns
    timm's maps: the same shapes at 107x107 (where valid padding shrinks every map off the
    power-of-two sizes, while the reductions stay nominal) and, with timm's weights, the same values."""
    from support import randomize_batch_norm

    from benchmarks.reference import import_timm

    try:
        timm = import_timm()
    except Exception as exc:  # an import that fails for any reason is this machine's, not archspec's
        pytest.skip(f"timm does not import here: {exc}")
    full = bt.build(name)
    assert [(f["num_chs"], f["reduction"]) for f in full.feature_info] == TIMM_STAGES[name]
    theirs = timm.create_model(name, pretrained=False)
    assert [(f["num_chs"], f["reduction"]) for f in theirs.feature_info] == TIMM_STAGES[name]
    assert full.feature_info[0]["module"] == "stem.conv2d_2b"  # a module inside the stem, as timm names one

    randomize_batch_norm(theirs, seed=6)
    theirs.eval()
    tapped: list[torch.Tensor] = []  # what timm's features_only model returns, with these weights
    for f in theirs.feature_info:
        theirs.get_submodule(f["module"]).register_forward_hook(lambda m, a, out: tapped.append(out))
    their_extractor = timm.create_model(name, pretrained=False, features_only=True).eval()
    small = archspec.load(name, input_shape=(107, 107, 3))
    ours = bt.build(small).eval()
    bt.load_reference_weights(ours, theirs.state_dict(), source="timm")
    extractor = bt.build(small, features_only=True).eval()
    missing, _ = extractor.load_state_dict(ours.state_dict(), strict=False)
    assert missing == []
    assert [(f["num_chs"], f["reduction"]) for f in extractor.feature_info] == TIMM_STAGES[name]
    x = torch.randn(1, 3, 107, 107, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        got, shapes = extractor(x), [tuple(t.shape) for t in their_extractor(x)]
        theirs(x)
    assert [tuple(t.shape) for t in got] == shapes == [tuple(t.shape) for t in tapped]
    assert [t.shape[2] for t in got] == [51, 23 if name == "inception_resnet_v2" else 25, 11, 5, 2]
    for a, e in zip(got, tapped, strict=True):
        assert (a - e).abs().max() <= 1e-4 * e.abs().max()


def test_features_only_takes_out_indices_of_declared_stages() -> None:
    """out_indices counts in the spec's `features:` as in the stages found: timm's meaning."""
    picked = bt.build("inception_v4", features_only=True, out_indices=(1, -2)).eval()
    assert picked.feature_info == [
        {"module": "stem.mixed_3a", "num_chs": 160, "reduction": 4},
        {"module": "mixed_6h", "num_chs": 1024, "reduction": 16},
    ]
    with torch.no_grad():
        maps = picked(torch.zeros(1, 3, 299, 299))
    assert [tuple(m.shape) for m in maps] == [(1, 160, 73, 73), (1, 1024, 17, 17)]
    assert not any(key.startswith(("mixed_7", "head.")) for key in picked.state_dict())
    with pytest.raises(ValueError, match="has 5 stages"):
        bt.build("inception_v4", features_only=True, out_indices=(5,))
