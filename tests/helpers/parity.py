"""The deterministic weight rule of the TPSMM / MRAA golden fixtures (tests/data/*_tiny_subset.pt), a reader
for the official key listings (tests/data/*_keys_*.txt), and the checks both methods' tests share.

The fixtures were produced by the official code with weights defined by this rule (reference README,
"Weight rule of the TPSMM and MRAA fixtures"), so the tests rebuild the state dicts instead of storing them;
``verify`` checks the rebuilt tensors against the checksums stored with each fixture.
"""
from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any, Dict, Mapping, Tuple

import torch
from torch import Tensor

ZERO_INIT_HEADS = {"tpsmm": ("bg_predictor.bg_encoder.fc.", torch.tensor([1.0, 0, 0, 0, 1, 0])),
                   "mraa": ("bg_predictor.fc.", torch.tensor([1.0, 0, 0, 0, 1, 0]))}


def rule_value(name: str, template: Tensor, method: str, num_regions: int = 0, weight_seed: int = 0) -> Tensor:
    """The value of state-dict entry ``name`` (``<checkpoint entry>.<key>``) with ``template``'s shape."""
    if name.endswith("num_batches_tracked") or name.endswith("down.weight"):
        return template.clone()
    seed = (zlib.crc32(name.encode("utf-8")) + weight_seed * 0x9E3779B9) % 2 ** 32
    r = torch.randn(tuple(template.shape), generator=torch.Generator().manual_seed(seed), dtype=torch.float32)
    if name.endswith("running_var"):
        value = r.abs() * 0.5 + 0.5
    elif name.endswith("running_mean") or name.endswith("bias"):
        value = r * 0.1
    elif r.dim() == 1:
        value = r * 0.1 + 1.0
    else:
        value = r * (float(r.numel() // r.shape[0]) ** -0.5)
    prefix, bias = ZERO_INIT_HEADS[method]
    if name.startswith(prefix):
        value = value * 0.1 + (bias if name.endswith("bias") else 0.0)
    if method == "mraa" and name == "avd_network.decoder.9.bias":
        value = value + torch.tensor([0, 0, 0.5, 0, 0, 0.5]).repeat(num_regions)
    return value


def rule_state_dict(entry: str, module: torch.nn.Module, method: str, num_regions: int = 0) -> Dict[str, Tensor]:
    """The rule's state dict for ``module`` stored under checkpoint entry ``entry``."""
    return {k: rule_value(f"{entry}.{k}", v, method, num_regions) for k, v in module.state_dict().items()}


def verify(state: Mapping[str, Tensor], checksums: Mapping[str, Tensor]) -> None:
    """Assert that ``state`` has exactly the checksummed keys with float64 [sum, abs_sum, numel] equal."""
    assert sorted(state) == sorted(checksums)
    for k, v in state.items():
        got = torch.tensor([v.double().sum().item(), v.double().abs().sum().item(), float(v.numel())],
                           dtype=torch.float64)
        torch.testing.assert_close(got, checksums[k].to(torch.float64), rtol=1e-9, atol=1e-9, msg=k)


def read_key_listing(listing: Path) -> Dict[str, Tuple[int, ...]]:
    """``entry.key -> shape`` from an official key listing (``key<TAB>shape[<TAB>dtype]`` lines, ``#`` comments)."""
    out = {}
    for line in listing.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape = line.split("\t")[:2]
        out[key] = tuple(int(s) for s in re.findall(r"\d+", shape))
    return out


def layout_from_listing(official: Mapping[str, Tuple[int, ...]], value: float, counter: int = 7
                        ) -> Dict[str, Dict[str, Tensor]]:
    """An official checkpoint dict ``{entry: state dict}`` with every key of the listing: floats ``value``,
    BatchNorm counters ``counter``. Tensors are expanded scalars, so the saved file stores one element per
    tensor while a strict load still checks every shape."""
    data: Dict[str, Dict[str, Tensor]] = {}
    for key, shape in official.items():
        entry, name = key.split(".", 1)
        data.setdefault(entry, {})[name] = (torch.tensor(counter) if name.endswith("num_batches_tracked")
                                            else torch.tensor(value).expand(shape))
    return data


def check_fast_path(model, fixture: Mapping[str, Tensor], atol: float) -> None:
    """The batched ``animate`` equals the official per-frame demo loop (``official_animation``) in every mode, on two samples whose
    chunks cross the sample boundary."""
    g = torch.Generator().manual_seed(0)
    sources = torch.cat([fixture["source"], torch.rand(1, 3, 64, 64, generator=g)])
    clips = torch.stack([fixture["driving"], torch.rand(3, 3, 64, 64, generator=g)])
    for mode in ("absolute", "relative", "avd"):
        fast = model.animate(sources, clips, mode=mode, chunk_size=4)
        for b in range(2):
            assert (fast[b] - model.official_animation(sources[b:b + 1], clips[b], mode=mode)).abs().max() < atol, mode


def full_size_file(cls, listing: Path, value: float, counter: int, path: Path) -> Dict[str, Any]:
    """Check that ``cls``'s vox-256 preset has exactly the official key listing's keys and shapes, write a
    full-size file in the official layout to ``path`` and return its content."""
    official = read_key_listing(listing)
    with torch.device("meta"):
        ours = {k: tuple(v.shape) for k, v in cls.build("vox-256").state_dict().items()}
    assert ours == official
    data = layout_from_listing(official, value, counter=counter)
    torch.save(data, path)
    return data


def write_official_file(cls, fixture: Mapping[str, Any], method: str, entries, header: Mapping[str, Any],
                        path: Path, *rule_args: int) -> Path:
    """An official-layout file at ``path`` with the fixture's weights (rebuilt from the rule, checksums
    verified) under ``entries``, plus the official ``header`` keys (epoch, optimiser)."""
    model = cls(**fixture["config"])
    data = dict(header)
    for entry in entries:
        data[entry] = rule_state_dict(entry, getattr(model, entry), method, *rule_args)
        verify(data[entry], fixture["state_dict_checksums"][entry])
    torch.save(data, path)
    return path


def max_err(a: Tensor, b: Tensor) -> float:
    return (a - b).abs().max().item()


#: the fixtures' official mode names -> the Animator's modes ("standard_bg" is reconstruction with background motion)
MODES = {"standard": "absolute", "relative": "relative", "avd": "avd"}
PARAM_ATOL, MAP_ATOL = 1e-5, 1e-4


def check_parity(model, fixture: Mapping[str, Any], mode: str, ref: Mapping[str, Tensor], ours: Mapping[str, Tensor],
                 scalar: str, is_param) -> None:
    """Every intermediate of our per-frame official loop (``ours``) equals the fixture's (``ref``): motion
    parameters (``is_param(key)``) within 1e-5, maps / flows / predictions within 1e-4; and the public API equals
    the official demo (``animate`` with default arguments) or, for ``standard_bg``, ``reconstruct``.
    ``scalar`` is the fixture's movement-scale entry, checked separately."""
    assert set(ours) == set(ref) - {scalar}
    for key, value in ours.items():
        assert max_err(value, ref[key]) < (PARAM_ATOL if is_param(key) else MAP_ATOL), (mode, key)
    if mode in MODES:
        out = model.animate(fixture["source"], fixture["driving"][None], mode=MODES[mode])[0]
    else:
        out = model.reconstruct(fixture["source"].expand(3, -1, -1, -1), fixture["driving"])["prediction"]
    assert max_err(out, ref["prediction"]) < MAP_ATOL, mode


def official_outputs(model, fixture: Mapping[str, Any], mode: str, scale_entry: str, frame_outputs) -> Dict[str, Tensor]:
    """Every intermediate of the official loop, as the fixture was made: per-frame calls with batch 1, the motion
    parameters of the source and of frame 0 detected once, the fixture's movement scale; ``frame_outputs(source,
    source_motion, new_motion, driving_frame)`` gives one frame's outputs (``standard_bg`` adds background motion)."""
    src, drv = fixture["source"], fixture["driving"]
    detect = getattr(model, model.motion_detector)
    with torch.no_grad():
        source_motion, initial = detect(src), detect(drv[:1])
        scale = torch.tensor([fixture["relative"][scale_entry]], dtype=torch.float64)
        outs = [frame_outputs(src, source_motion, model.animated_motion(source_motion, detect(frame), MODES.get(mode, "absolute"),
                                                                        initial, scale), frame)
                for frame in drv.split(1)]
    return {k: torch.cat([o[k] for o in outs]) for k in outs[0]}
