"""Lazy embedding updates: Adam on the rows a batch looked up, nothing on the others.

The two backends agree step for step (tests/training/test_parity.py runs both modes); this pins the
PyTorch update itself against torch.optim.Adam.
"""

from __future__ import annotations

import numpy as np
import torch

from training.backends.pytorch_backend import lazy_adam

BETAS, EPS, WD, LR = (0.9, 0.999), 1e-8, 1e-2, 0.05


def test_rows_looked_up_every_step_follow_adam_and_the_others_do_not_move():
    rng = np.random.default_rng(0)
    start = torch.from_numpy(rng.normal(size=(10, 4)).astype(np.float32))
    table, m, v = start.clone(), torch.zeros_like(start), torch.zeros_like(start)
    always = torch.tensor([1, 3])
    reference = torch.nn.Parameter(start[always].clone())
    adam = torch.optim.Adam([reference], lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    for step in range(1, 6):
        grad = torch.from_numpy(rng.normal(size=(2, 4)).astype(np.float32))
        rows, g = (always, grad) if step > 1 else (torch.tensor([1, 3, 7]), torch.cat([grad, grad[:1]]))
        lazy_adam(table, rows, table[rows], g, m, v, step, LR, BETAS, EPS, WD)
        reference.grad = grad.clone()
        adam.step()
        if step == 1:
            after_first = table[7].clone()
    torch.testing.assert_close(table[always], reference.detach(), rtol=1e-6, atol=1e-6)
    # Row 7, looked up at the first step only, took that step and then stayed put with its moments;
    # rows never looked up kept their initial values exactly (no decay, no momentum drift).
    assert not torch.equal(after_first, start[7])
    assert torch.equal(table[7], after_first)
    untouched = [i for i in range(10) if i not in (1, 3, 7)]
    assert torch.equal(table[untouched], start[untouched])
    assert torch.equal(m[untouched], torch.zeros(len(untouched), 4))
