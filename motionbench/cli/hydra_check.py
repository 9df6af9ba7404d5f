"""Compose the config once before ``hydra.main`` runs, so that Hydra's own errors (misspelt keys, values of
the wrong type, unknown config options, override syntax) reach the user as one ``motionbench: error:``
line naming the key and the fix -- with "did you mean" for misspelt keys -- instead of Hydra's
multi-line message and exit status 1.

Composition is Hydra's (``hydra.compose`` on the same config module); this module only translates its
exceptions. Multirun sweeps are checked per swept value.
"""
from __future__ import annotations

import difflib
import itertools
from typing import List, Sequence

from .validate import ConfigValueError

__all__ = ["check_composition"]

_MAX_COMBOS = 16


def _compose(overrides: List[str]):
    from hydra import compose, initialize_config_module

    with initialize_config_module("motionbench.conf", version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def _chain(exc: BaseException):
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _suggest(key: str, others: List[str]) -> str:
    """" (did you mean ...)" from the keys that exist beside ``key`` in the config composed without it."""
    from omegaconf import DictConfig, OmegaConf

    parent, _, leaf = key.rpartition(".")
    try:
        cfg = _compose(others)
        node = OmegaConf.select(cfg, parent) if parent else cfg
    except Exception:  # noqa: BLE001 - a suggestion is a courtesy; the error message stands without it
        return ""
    if not isinstance(node, DictConfig):
        return ""
    close = difflib.get_close_matches(leaf, [str(k) for k in node.keys() if k != "hydra"], n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr('.'.join(filter(None, [parent, c]))) for c in close)}?" if close else ""


def _explain(exc: Exception, overrides: List[str]) -> str:
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

    chain = _chain(exc)
    for e in chain:
        key = getattr(e, "full_key", None)
        if isinstance(e, (ConfigAttributeError, ConfigKeyError)) and key:
            bad = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] == key]
            others = [o for o in overrides if o not in bad]
            return (f"unknown config key '{key}'{_suggest(key, others)} (to add a new key on purpose use "
                    f"+{key}=VALUE; python -m motionbench --cfg job shows every key)")
        if isinstance(e, ValidationError) and key:
            value = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+").split("=", 1)[0] == key), "?")
            return f"{key}={value}: {str(e).splitlines()[0].replace('Integer', 'an integer')}"
    first = " ".join(str(exc).split())
    if type(exc).__name__ == "MissingConfigException":
        options = getattr(exc, "options", None)
        more = f" (available: {', '.join(sorted(options))})" if options else ""
        return f"{first}{more}"
    return f"{first} (check the override syntax: key=value, +key=value to add a key, -m for sweeps)"


def _combos(overrides: List[str], multirun: bool) -> List[List[str]]:
    """The override lists to compose: each swept value at least once (first values of the others)."""
    if not multirun:
        return [overrides]
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    choices: List[List[str]] = []
    for text, o in zip(overrides, parsed):
        if o.is_sweep_override():
            try:
                values = list(o.sweep_string_iterator())
            except Exception:  # noqa: BLE001 - glob sweeps etc.: let Hydra expand them at run time
                return [[t for t, p in zip(overrides, parsed) if not p.is_sweep_override()]]
            choices.append([f"{o.get_key_element()}={v}" for v in values])
        else:
            choices.append([text])
    combos = list(itertools.islice(itertools.product(*choices), _MAX_COMBOS))
    for i, values in enumerate(choices):  # beyond the cap: every value of every sweep still composed once
        for v in values:
            if not any(c[i] == v for c in combos):
                combos.append(tuple(c[0] if j != i else v for j, c in enumerate(choices)))
    return [list(c) for c in combos]


def check_composition(argv: Sequence[str]) -> None:
    """Raise :class:`ConfigValueError` if Hydra could not compose ``argv``'s config (the CLI's own flags
    ``--cfg``/``-m``/... are parsed by Hydra's own argument parser)."""
    from hydra._internal.utils import get_args_parser

    try:
        args = get_args_parser().parse_args(list(argv))
    except SystemExit:  # argparse already printed its usage error
        raise ConfigValueError(f"cannot parse the command line {' '.join(argv)!r} (see --help)") from None
    if args.help or args.hydra_help or args.config_path or args.config_name or args.config_dir or args.info:
        return  # Hydra's own help / a user config tree: nothing of ours to check
    overrides: List[str] = list(args.overrides)
    try:
        combos = _combos(overrides, bool(args.multirun))
    except Exception as exc:  # noqa: BLE001 - override grammar errors
        raise ConfigValueError(_explain(exc, overrides)) from None
    for combo in combos:
        try:
            _compose(combo)
        except Exception as exc:  # noqa: BLE001 - Hydra/OmegaConf raise many types; all are config errors
            raise ConfigValueError(_explain(exc, combo)) from exc
