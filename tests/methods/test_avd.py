"""Animation via disentanglement (TPSMM, MRAA): the second training stage and the ``avd`` mode of the contract."""
import pytest
import torch

import motionbench
from motionbench.eval.runner import effective_cross_mode
from motionbench.train.trainer import Trainer
from helpers.methods import loss_cfg


@pytest.mark.parametrize("name,terms", [("tpsmm", {"g/rec_kp"}), ("mraa", {"g/rec_shift", "g/rec_affine"})])
def test_avd_stage_trains_only_the_avd_network(name, terms, tmp_path):
    torch.manual_seed(0)
    model = motionbench.create_animator(name, preset="tiny")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer(model, loss_cfg(name, stage="avd"), {"max_steps": 2}, {"lr_generator": 1e-3}, tmp_path,
                      torch.device("cpu"))
    logs = trainer.train_step({"source": torch.rand(4, 3, 64, 64), "driving": torch.rand(4, 3, 64, 64)})
    assert terms <= set(logs)
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])
               and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert changed == {"avd_network"}
    assert effective_cross_mode(model, "avd") == "avd"


def test_methods_without_avd_refuse_the_mode():
    fomm = motionbench.create_animator("fomm", preset="tiny")
    with pytest.raises(ValueError, match="no avd mode"):
        effective_cross_mode(fomm, "avd")
    with pytest.raises(NotImplementedError, match="no avd mode"):
        fomm.animate(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64), mode="avd")
