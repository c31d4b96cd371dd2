"""app.service.weights on a bidirectional LSTM: two entries per layer, as /api/run counts them."""

from __future__ import annotations

import numpy as np
import torch

from app.models import zoo
from app.service.limits import Limits
from app.service.weights import model_weights


def test_a_bidirectional_model_answers_each_direction_from_its_own_tensors() -> None:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True).double()
    state = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    m = zoo.Model(id="bi", title="bi", description="", hint="", weights=state, input_size=3)
    body = model_weights(m, Limits())
    assert [(e["layer"], e["direction"]) for e in body["layers"]] == [
        (0, "forward"),
        (0, "backward"),
        (1, "forward"),
        (1, "backward"),
    ]
    assert body["inputs"] == ["x0", "x1", "x2"]
    assert (
        body["layers"][2]["inputs"][:2] == ["forward h0", "forward h1"]
        and len(body["layers"][2]["inputs"]) == 10
    )
    back = body["layers"][3]["gates"]["o"]
    np.testing.assert_allclose(back["W"], state["weight_ih_l1_reverse"][15:20], rtol=1e-6)
    np.testing.assert_allclose(back["U"], state["weight_hh_l1_reverse"][15:20], rtol=1e-6)
    b = state["bias_ih_l1_reverse"][15:20] + state["bias_hh_l1_reverse"][15:20]
    np.testing.assert_allclose(back["b"], b, rtol=1e-6)
    one = model_weights(m, Limits(), gate="g", layer=1)
    assert one["layers"][0]["direction"] == "backward" and list(one["layers"][0]["gates"]) == ["g"]
    np.testing.assert_allclose(
        one["layers"][0]["gates"]["g"]["W"], state["weight_ih_l0_reverse"][10:15], rtol=1e-6
    )
