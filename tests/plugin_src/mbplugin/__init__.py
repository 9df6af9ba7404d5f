"""A third-party motionbench plugin used by the tests (installed as a temporary dist-info on sys.path).

``BlendNet`` is a deliberately small trainable animator with a discriminator: it lets the tests drive the
plugin path, the trainer (GAN step, gradient penalties, resume, DDP) and the benchmark quickly.
"""
import torch
import torch.nn.functional as F
from torch import nn

from motionbench import Adversarial, Animator, Capabilities


class BlendNet(Adversarial, Animator):
    name = "blendnet"
    capabilities = Capabilities(relative=True, trainable=True, adversarial=True)

    def __init__(self, channels: int = 8, batch_norm: bool = True, **kw):
        super().__init__()  # the arguments are captured as the config (saved in checkpoints) automatically
        norm = nn.BatchNorm2d(channels) if batch_norm else nn.Identity()  # BN statistics are per-rank batch
        self.net = nn.Sequential(nn.Conv2d(6, channels, 3, padding=1), norm, nn.ReLU(),
                                 nn.Conv2d(channels, 3, 3, padding=1))
        self.discriminator = nn.Sequential(nn.Conv2d(3, channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                                           nn.Conv2d(channels, 1, 3, padding=1))

    def encode_source(self, source):
        return {"source": source}

    def _generate(self, source, driving):
        return torch.sigmoid(self.net(torch.cat([source, driving], 1)))

    def animate_state(self, state, driving, *, mode, driving_ref):
        b, t = driving.shape[:2]
        src = state["source"].unsqueeze(1).expand(-1, t, -1, -1, -1).reshape(b * t, *driving.shape[2:])
        return self._generate(src, driving.reshape(b * t, *driving.shape[2:])).view_as(driving)

    def generator_losses(self, batch, loss_cfg):
        pred = self._generate(batch["source"], batch["driving"])
        losses = {"l1": float(loss_cfg.get("l1", 1.0)) * F.l1_loss(pred, batch["driving"])}
        losses.update(self.generator_gan_loss(loss_cfg, pred))  # the GAN policy of motionbench.Adversarial
        return losses, {"prediction": pred}

    def discriminator_logits(self, images, batch, generated):
        return [self.discriminator(images)]
