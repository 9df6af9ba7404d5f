"""The GAN training policy shared by every adversarial method: one mixin, one generator and one discriminator loss.

A method with a discriminator inherits :class:`Adversarial` before :class:`~motionbench.core.animator.Animator`
(``class FOMMAnimator(Adversarial, Animator)``), sets ``capabilities.adversarial`` and :attr:`~Adversarial.gan_defaults`
(its official weights and objective), stores the discriminator as ``self.discriminator`` (None when the config
has none) and implements :meth:`~Adversarial.discriminator_logits`. The policy then lives here only:

- the loss config's ``generator_gan`` / ``discriminator_gan`` / ``gan_kind`` override the method's defaults
  (:meth:`~Adversarial.gan_setting`);
- :meth:`~Adversarial.generator_gan_loss` is the generator's term ``generator_gan × Σ_maps g(logits)``, an error
  when the weight is non-zero and the model was built without a discriminator;
- :meth:`~Adversarial.discriminator_losses` is the trainer's D step: ``discriminator_gan × Σ_maps d(real, fake)``
  with one-sided ``label_smoothing``, nothing when ``generator_gan`` is 0 (the official trainers skip D then).

A method whose official objective differs overrides one hook: :meth:`~Adversarial.gan_g_objective` /
:meth:`~Adversarial.gan_d_objective` (one logit map) or :meth:`~Adversarial.discriminator_inputs`.
"""
from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Optional, Sequence, Tuple

from torch import Tensor, nn

__all__ = ["Adversarial"]


class Adversarial:
    """Mixin: the GAN policy of an :class:`~motionbench.core.animator.Animator` with a discriminator."""

    #: the method's official GAN settings, used where the loss config leaves a key out (see :meth:`gan_setting`)
    gan_defaults: ClassVar[Mapping[str, Any]] = {"generator_gan": 0.0, "discriminator_gan": 1.0, "gan_kind": "lsgan"}
    #: the method-config setting that builds the discriminator (named in configuration errors)
    discriminator_option: ClassVar[str] = "a discriminator"
    discriminator: Optional[nn.Module]

    def discriminator_module(self) -> Optional[nn.Module]:
        """The discriminator (its parameters get their own optimiser); None when the config has none."""
        return getattr(self, "discriminator", None)

    def gan_setting(self, loss_cfg: Mapping[str, Any], key: str) -> Any:
        """``loss_cfg[key]`` for ``generator_gan`` / ``discriminator_gan`` / ``gan_kind``, else the method's
        :attr:`gan_defaults` value (one source for the generator side, the D step and the trainer)."""
        value = loss_cfg.get(key)
        return self.gan_defaults[key] if value is None else value

    def require_discriminator(self, what: str) -> nn.Module:
        """The discriminator that ``what`` needs; the one error for a model built without one."""
        disc = self.discriminator_module()
        if disc is None:
            raise ValueError(f"method '{getattr(self, 'name', type(self).__name__)}': {what} needs a discriminator, "
                             f"but this model was built without one; set loss.generator_gan=0 or build it with "
                             f"{self.discriminator_option}")
        return disc

    def uses_generator_gan(self, loss_cfg: Mapping[str, Any]) -> bool:
        """Whether the generator gets an adversarial term; a non-zero ``generator_gan`` without a
        discriminator is a configuration error (never silently dropped)."""
        weight = float(self.gan_setting(loss_cfg, "generator_gan"))
        if weight != 0:
            self.require_discriminator(f"loss.generator_gan={weight:g}")
        return weight != 0

    def generator_gan_loss(self, loss_cfg: Mapping[str, Any], fake: Optional[Tensor] = None,
                           batch: Optional[Mapping[str, Tensor]] = None, generated: Optional[Mapping[str, Tensor]] = None,
                           *, logits: Optional[Sequence[Tensor]] = None) -> Dict[str, Tensor]:
        """``{"gen_gan": generator_gan × Σ_maps gan_g_objective(map)}`` over the discriminator's logit maps of the
        generated images ``fake`` (:meth:`discriminator_logits`), or over ``logits`` a caller already computed;
        ``{}`` when ``generator_gan`` is 0."""
        if not self.uses_generator_gan(loss_cfg):
            return {}
        kind = str(self.gan_setting(loss_cfg, "gan_kind"))
        if logits is None:
            logits = self.discriminator_logits(fake, batch or {}, generated or {})
        weight = float(self.gan_setting(loss_cfg, "generator_gan"))
        return {"gen_gan": weight * sum(self.gan_g_objective(f, kind) for f in logits)}

    def discriminator_losses(self, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor],
                             loss_cfg: Mapping[str, Any]) -> Dict[str, Tensor]:
        """Weighted discriminator loss terms for the trainer's D step:
        ``{"disc_gan": discriminator_gan × Σ_maps gan_d_objective(real, fake)}`` over the logit maps of
        :meth:`discriminator_inputs`; empty when ``generator_gan`` is 0 or there is no discriminator."""
        if float(self.gan_setting(loss_cfg, "generator_gan")) == 0 or self.discriminator_module() is None:
            return {}
        kind = str(self.gan_setting(loss_cfg, "gan_kind"))
        real_label = 1.0 - float(loss_cfg.get("label_smoothing", 0.0))
        real_images, fake_images = self.discriminator_inputs(batch, generated)
        real = self.discriminator_logits(real_images, batch, generated)
        fake = self.discriminator_logits(fake_images.detach(), batch, generated)
        loss = sum(self.gan_d_objective(r, f, kind, real_label) for r, f in zip(real, fake))
        return {"disc_gan": float(self.gan_setting(loss_cfg, "discriminator_gan")) * loss}

    def gan_g_objective(self, fake: Tensor, kind: str) -> Tensor:
        """The generator's loss on one logit map (:func:`motionbench.nn.losses.gan_g_loss`)."""
        from ..nn.losses import gan_g_loss

        return gan_g_loss(fake, kind)

    def gan_d_objective(self, real: Tensor, fake: Tensor, kind: str, real_label: float) -> Tensor:
        """The discriminator's loss on one pair of logit maps (:func:`motionbench.nn.losses.gan_d_loss`)."""
        from ..nn.losses import gan_d_loss

        return gan_d_loss(real, fake, kind, real_label=real_label)

    def discriminator_inputs(self, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> Tuple[Tensor, Tensor]:
        """The (real, fake) images the discriminator compares: the driving frames vs ``generated["prediction"]``."""
        return batch["driving"], generated["prediction"]

    def discriminator_logits(self, images: Tensor, batch: Mapping[str, Tensor], generated: Mapping[str, Tensor]) -> list:
        """The discriminator's logit maps for ``images`` (also used by the trainer's gradient penalties); a model
        without a discriminator raises :meth:`require_discriminator`'s error."""
        raise NotImplementedError(f"method '{getattr(self, 'name', type(self).__name__)}' does not expose "
                                  f"discriminator logits")
