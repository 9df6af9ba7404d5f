"""Registry semantics and the public API."""
import subprocess
import sys

import pytest
import torch

import motionbench
from motionbench.core.animator import Animator, Capabilities
from motionbench.registries import DuplicateNameError, Registry, RegistryError, UnknownNameError


def test_aliases_lazy_and_duplicates():
    reg = Registry("thing")
    reg.add("alpha", "collections:OrderedDict", aliases=["a"])
    assert reg.get("A") is __import__("collections").OrderedDict
    assert reg.resolve_name("a") == "alpha"
    with pytest.raises(DuplicateNameError):
        reg.add("alpha", object())
    with pytest.raises(DuplicateNameError):
        reg.add("other", object(), aliases=["a"])
    reg.add("alpha", dict, replace=True)
    assert reg.get("alpha") is dict


def test_unknown_name_did_you_mean():
    reg = Registry("method")
    reg.add("lia", object())
    reg.add("fomm", object())
    with pytest.raises(UnknownNameError, match="did you mean 'lia'"):
        reg.get("lai")


def test_bad_lazy_entry_names_target():
    reg = Registry("metric")
    reg.add("broken", "motionbench.nonexistent:Thing")
    with pytest.raises(RegistryError, match="motionbench.nonexistent:Thing"):
        reg.get("broken")


@pytest.mark.slow
def test_import_is_cheap():
    code = "import sys, motionbench; bad=[m for m in ('torchvision','lpips','pytorch_fid','face_alignment','hydra','pandas','skimage') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_create_and_register_animator():
    assert {"identity", "fomm", "lia"} <= set(motionbench.list_animators())

    @motionbench.register_animator("test_shift", aliases=["shift_test"])
    class Shift(Animator):
        name = "test_shift"
        capabilities = Capabilities(relative=False, trainable=False)

        def encode_source(self, source):
            return {"s": source}

        def animate_state(self, state, driving, *, mode, driving_ref):
            return driving.roll(1, dims=-1)

    try:
        m = motionbench.create_animator("shift_test")
        d = torch.rand(1, 2, 3, 8, 8)
        assert torch.equal(m.animate(torch.rand(1, 3, 8, 8), d), d.roll(1, dims=-1))
        with pytest.raises(NotImplementedError, match="no relative mode"):
            m.animate(torch.rand(1, 3, 8, 8), d, mode="relative")
        with pytest.raises(TypeError):
            motionbench.register_animator("not_an_animator")(int)
    finally:
        from motionbench.registries import ANIMATORS
        ANIMATORS._entries.pop("test_shift")
        ANIMATORS._aliases.pop("shift_test")


def test_identity_contract_shapes():
    m = motionbench.create_animator("identity")
    src = torch.rand(2, 3, 16, 16)
    out = m.animate(src, torch.rand(2, 5, 3, 16, 16), mode="relative")
    assert out.shape == (2, 5, 3, 16, 16)
    assert torch.equal(out[:, 3], src)
    assert m.animate(src, torch.rand(2, 3, 16, 16)).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="batch"):
        m.animate(src, torch.rand(3, 5, 3, 16, 16))
    with pytest.raises(ValueError, match="mode"):
        m.animate(src, torch.rand(2, 5, 3, 16, 16), mode="sideways")
