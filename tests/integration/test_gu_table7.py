"""Table 7 (Gu et al. 2025) code on a tiny random GPT-2 saved to disk and loaded with sinkviz.load(path)."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

import sinkviz
from sinkviz.papers.positional import edited_positions, position_embedding, table7
from tiny_models import save_tiny


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    folder = save_tiny("gpt2", tmp_path_factory.mktemp("gpt2"))
    # sharpen the random model so its attention depends strongly on position embeddings
    sharp = AutoModelForCausalLM.from_pretrained(folder)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        sharp.transformer.wpe.weight.copy_(torch.randn(sharp.transformer.wpe.weight.shape, generator=g))
        for block in sharp.transformer.h:
            block.attn.c_attn.weight.mul_(20.0)
    sharp.save_pretrained(folder, safe_serialization=True)
    loaded = sinkviz.load(str(folder))
    eager = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    return loaded, eager


def repeated_ids(n=3, T=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, 40, (n, 1), generator=g).repeat(1, T)


def sink_by_hand(eager, ids, position_ids, eps=0.3):
    """Paper formula written out: alpha_k = mean of A[t, k] over t >= k; Sink_k = % of (sample, layer, head) > eps."""
    with torch.no_grad():
        att = eager.transformer(input_ids=ids, position_ids=position_ids, output_attentions=True).attentions
    A = torch.stack(att, dim=1).double()  # (N, L, H, T, T)
    T = A.shape[-1]
    alpha = torch.stack([A[..., k:, k].mean(-1) for k in range(T)], dim=-1)
    return (alpha > eps).double().mean(dim=(0, 1, 2)).numpy() * 100


def test_replace_and_swap_edit_rows_then_restore_exactly(gpt2):
    loaded, _ = gpt2
    emb, offset = position_embedding(loaded)
    assert offset == 0 and emb is loaded.model.transformer.wpe
    before = emb.weight.detach().clone()
    with edited_positions(loaded, "replace", 5):
        assert torch.equal(emb.weight[0], before[4]) and torch.equal(emb.weight[4], before[4])
        assert torch.equal(emb.weight[1:], before[1:])
    assert torch.equal(emb.weight, before)
    with edited_positions(loaded, "swap", 7):
        assert torch.equal(emb.weight[0], before[6]) and torch.equal(emb.weight[6], before[0])
    assert torch.equal(emb.weight, before)
    with pytest.raises(RuntimeError, match="boom"):
        with edited_positions(loaded, "swap", 3):
            raise RuntimeError("boom")
    assert torch.equal(emb.weight, before)


def test_bad_arguments(gpt2, tmp_path):
    loaded, _ = gpt2
    with pytest.raises(ValueError, match="mode"):
        with edited_positions(loaded, "shift", 5):
            pass
    with pytest.raises(ValueError, match=r"\[1, 128\]"):
        with edited_positions(loaded, "swap", 500):
            pass
    llama = sinkviz.load(str(save_tiny("llama", tmp_path / "llama")))
    with pytest.raises(ValueError, match="no learned absolute position"):
        position_embedding(llama)


def test_table7_equals_position_id_permutation_by_hand(gpt2):
    loaded, eager = gpt2
    ids = repeated_ids()
    N, T = ids.shape
    ts = (3, 6)
    out = table7(loaded, ids, ts, eps=0.2)
    assert out["T"] == T and out["N"] == N and len(out["rows"]) == 4
    base = sink_by_hand(eager, ids, torch.arange(T).expand(N, T), eps=0.2)
    assert out["baseline"]["sink_1"] == pytest.approx(base[0], abs=1e-9)
    for row in out["rows"]:
        pos = torch.arange(T)
        t = row["t"]
        if row["mode"] == "replace":
            pos[0] = t - 1  # position 1 uses p_t
        else:
            pos[0], pos[t - 1] = t - 1, 0  # positions 1 and t exchange embeddings
        ref = sink_by_hand(eager, ids, pos.expand(N, T), eps=0.2)
        assert row["sink_1"] == pytest.approx(ref[0], abs=1e-9)
        assert row["sink_t"] == pytest.approx(ref[t - 1], abs=1e-9)
    # the edits really change the measurement (otherwise the comparison above would prove little)
    replace = [r for r in out["rows"] if r["mode"] == "replace"]
    assert all(r["sink_1"] < out["baseline"]["sink_1"] for r in replace)
    assert torch.equal(position_embedding(loaded)[0].weight, eager.transformer.wpe.weight)
