"""TPSMM inpainting network: encode the source, warp every encoder level by the optical flow, mask by the
multi-resolution occlusion maps, decode with skips (official ``modules/inpainting_network.py``).

:meth:`InpaintingNetwork.encode` and :meth:`InpaintingNetwork.animate_features` split the forward pass so
the animator encodes a source once and animates many driving frames from the cached encoder maps. The
detached warps the warp loss needs (``warped_encoder_maps``) are only computed with ``warped_maps=True``.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from motionbench.nn.blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d

__all__ = ["InpaintingNetwork"]


def _like(x: Tensor, ref: Tensor) -> Tensor:
    """``x`` in ``ref``'s memory format (grid_sample returns NCHW; keep channels-last convs channels-last)."""
    if ref.is_contiguous(memory_format=torch.channels_last) and not ref.is_contiguous():
        return x.contiguous(memory_format=torch.channels_last)
    return x


class InpaintingNetwork(nn.Module):
    def __init__(self, num_channels: int, block_expansion: int, max_features: int, num_down_blocks: int,
                 multi_mask: bool = True, **_: object) -> None:
        super().__init__()
        self.num_down_blocks = num_down_blocks
        self.multi_mask = multi_mask
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3), norm="instance")
        down_blocks, up_blocks, resblock = [], [], []
        for i in range(num_down_blocks):
            in_features = min(max_features, block_expansion * (2 ** i))
            out_features = min(max_features, block_expansion * (2 ** (i + 1)))
            down_blocks.append(DownBlock2d(in_features, out_features, kernel_size=(3, 3), padding=(1, 1), norm="instance"))
            decoder_in = out_features if i == num_down_blocks - 1 else out_features * 2
            up_blocks.append(UpBlock2d(decoder_in, in_features, kernel_size=(3, 3), padding=(1, 1), norm="instance"))
            resblock += [ResBlock2d(decoder_in, kernel_size=(3, 3), padding=(1, 1), norm="instance") for _ in range(2)]
        self.down_blocks = nn.ModuleList(down_blocks)
        self.up_blocks = nn.ModuleList(up_blocks[::-1])
        self.resblock = nn.ModuleList(resblock[::-1])
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))
        self.num_channels = num_channels

    @staticmethod
    def deform_input(inp: Tensor, deformation: Tensor) -> Tensor:
        h, w = inp.shape[2:]
        if deformation.shape[1:3] != (h, w):
            deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear",
                                        align_corners=True).permute(0, 2, 3, 1)
        return F.grid_sample(inp, deformation, align_corners=True)

    def occlude_input(self, inp: Tensor, occlusion_map: Tensor) -> Tensor:
        if not self.multi_mask and inp.shape[2:] != occlusion_map.shape[2:]:
            occlusion_map = F.interpolate(occlusion_map, size=inp.shape[2:], mode="bilinear", align_corners=True)
        return inp * occlusion_map

    def encode(self, image: Tensor) -> List[Tensor]:
        """The encoder maps, finest first (cacheable per source image)."""
        maps = [self.first(image)]
        for block in self.down_blocks:
            maps.append(block(maps[-1]))
        return maps

    def _warp(self, feature: Tensor, deformation: Tensor, occlusion: Tensor) -> Tensor:
        return self.occlude_input(self.deform_input(feature, deformation), occlusion)

    def animate_features(self, encoder_map: Sequence[Tensor], source_image: Tensor, dense_motion: Dict[str, object],
                         warped_maps: bool = False) -> Dict[str, object]:
        """Decode the warped encoder maps into ``prediction`` (and ``deformed``, the warped source)."""
        occlusion_map: List[Tensor] = dense_motion["occlusion_map"]  # type: ignore[assignment]
        deformation: Tensor = dense_motion["deformation"]  # type: ignore[assignment]
        out = _like(self._warp(encoder_map[-1], deformation, occlusion_map[0]), encoder_map[-1])
        warped = [self._warp(encoder_map[-1].detach(), deformation, occlusion_map[0].detach())] if warped_maps else []
        encode_i = out
        for i in range(self.num_down_blocks):
            out = self.resblock[2 * i + 1](self.resblock[2 * i](out))
            out = self.up_blocks[i](out)
            index = i + 1 if self.multi_mask else 0
            encode_i = _like(self._warp(encoder_map[-(i + 2)], deformation, occlusion_map[index]), out)
            if warped_maps:
                warped.append(self._warp(encoder_map[-(i + 2)].detach(), deformation, occlusion_map[index].detach()))
            if i == self.num_down_blocks - 1:
                break
            out = torch.cat([out, encode_i], 1)
        deformed_source = self.deform_input(source_image, deformation)
        occlusion_last = occlusion_map[-1]
        if not self.multi_mask:
            occlusion_last = F.interpolate(occlusion_last, size=out.shape[2:], mode="bilinear", align_corners=True)
        out = out * (1 - occlusion_last) + encode_i
        out = torch.sigmoid(self.final(out))
        out = out * (1 - occlusion_last) + deformed_source * occlusion_last
        result: Dict[str, object] = {"prediction": out, "deformed": deformed_source}
        if warped_maps:
            result["warped_encoder_maps"] = warped
        return result

    def forward(self, source_image: Tensor, dense_motion: Dict[str, object], warped_maps: bool = False
                ) -> Dict[str, object]:
        return self.animate_features(self.encode(source_image), source_image, dense_motion, warped_maps)

    def get_encode(self, driver_image: Tensor, occlusion_map: Sequence[Tensor]) -> List[Tensor]:
        """The driving frame's encoder maps masked by the (detached) occlusion maps, coarsest last: the
        targets of the warp loss (official ``get_encode``)."""
        out = self.first(driver_image)
        maps = [self.occlude_input(out.detach(), occlusion_map[-1].detach())]
        for i, block in enumerate(self.down_blocks):
            out = block(out.detach())
            maps.append(self.occlude_input(out.detach(), occlusion_map[len(self.down_blocks) - 1 - i].detach()).detach())
        return maps
