"""Mamba/attention hybrids (a tiny random Jamba): sinkviz traces their attention blocks under their block numbers,
exactly as eager attention computes them, the census measures the same blocks as the trace, and a Mamba block
cannot be selected."""
from __future__ import annotations

import pytest
import torch

from tiny_models import char_tokenizer, tiny_jamba, tiny_jamba_model


def test_a_hybrids_attention_blocks_are_traced_under_their_block_numbers_exactly():
    """Figs 25–27's first step on a Mamba/attention hybrid: ``trace`` captures blocks 1 and 3 (its attention
    blocks) under those numbers, equal to the model's own eager attention maps, and the hidden state of every
    block; a Mamba block cannot be selected."""
    import sinkviz
    from sinkviz.errors import InputError

    jamba = tiny_jamba()
    assert jamba.info.attention_layers == [1, 3] and jamba.info.blocks_without_attention == [0, 2]
    assert jamba.info.uses_attention_interface
    tr = sinkviz.trace(jamba, "ab cd ef gh ij kl")
    assert tr.layers == [1, 3] and sorted(tr.attentions) == [1, 3]
    model = jamba.model
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            eager = [a for a in model(input_ids=tr.input_ids, output_attentions=True).attentions if a is not None]
    finally:
        model.set_attn_implementation("sdpa")
    assert len(eager) == 2
    for layer, reference in zip([1, 3], eager):
        torch.testing.assert_close(tr.attentions[layer], reference.float(), atol=1e-6, rtol=1e-6)
    assert tuple(tr.hidden_states.shape[:1]) == (5,)  # embeddings and all four blocks
    with pytest.raises(InputError, match=r"Layer\(s\) \[0\] of 'tiny-jamba' hold no attention.*\[1, 3\]"):
        sinkviz.trace(jamba, "ab cd", layers=[0, 1])


@pytest.mark.parametrize("build, attending", [("jamba", [1, 3]), ("falcon_h1", [0, 1])])
def test_the_census_measures_a_hybrids_attention_blocks_as_the_dense_trace_does(build, attending):
    """The streaming census on a hybrid (Jamba: Mamba and attention blocks; Falcon-H1: attention beside Mamba-2 in
    every block): its attention blocks by default, α of the first keys equal to the dense trace's importance scores
    (Gu et al. 2025 §3.2); a Mamba block asked for by name is refused."""
    import numpy as np

    import sinkviz
    import tiny_models
    from sinkviz.census import Census
    from sinkviz.metrics.sink import importance_scores

    model = sinkviz.wrap(getattr(tiny_models, f"tiny_{build}_model")(), char_tokenizer(False), f"tiny-{build}")
    ids = torch.randint(0, 96, (2, 16), generator=torch.Generator().manual_seed(0))
    census = Census(model, seq_len=16, backend="torch")
    census.add(ids)
    result = census.result()
    assert result.layers == attending
    tr = sinkviz.trace(model, ids)
    dense = importance_scores(tr.attention_stack(), causal=True, lengths=tr.lengths)  # (N, L, H, T)
    np.testing.assert_allclose(result.alpha, dense[..., :result.alpha.shape[-1]], rtol=1e-5, atol=1e-6)
    if model.info.blocks_without_attention:
        with pytest.raises(ValueError, match=r"layers \[0\] of 'tiny-jamba' hold no attention.*\[1, 3\]"):
            Census(model, seq_len=16, layers=[0, 1])


def test_a_saved_hybrid_loads_from_its_folder_and_traces(tmp_path):
    import sinkviz

    tiny_jamba_model().save_pretrained(tmp_path, safe_serialization=True)
    char_tokenizer(False).save_pretrained(tmp_path)
    loaded = sinkviz.load(str(tmp_path), device="cpu", progress=False)
    assert loaded.info.attention_layers == [1, 3]
    assert sinkviz.trace(loaded, "ab cd ef").layers == [1, 3]


def test_blocks_without_attention_reads_the_block_types_of_hybrids_only():
    from types import SimpleNamespace

    from sinkviz.models import blocks_without_attention

    assert blocks_without_attention(SimpleNamespace(layers_block_type=["mamba", "attention", "mamba"])) == [0, 2]
    assert blocks_without_attention(SimpleNamespace(layer_types=["conv", "full_attention"])) == [0]  # LFM2
    assert blocks_without_attention(SimpleNamespace(layer_types=["linear_attention", "full_attention"])) == [0]
    # every block attends: Gemma3 / GPT-OSS alternate sliding and full attention; most configs name no types
    assert blocks_without_attention(SimpleNamespace(layer_types=["sliding_attention", "full_attention"])) == []
    assert blocks_without_attention(SimpleNamespace()) == []


def test_the_long_context_explorer_opens_a_hybrid_on_its_attention_blocks():
    """``explore`` on a hybrid past the long-context threshold: the census forward measures blocks 1 and 3, the
    whole-text view of block 3 equals its dense attention, the layer slider starts at the first attention block,
    and a Mamba block is refused inside the widget, naming the attention blocks."""
    import numpy as np

    import sinkviz
    from sinkviz.widgets.explorer import explore
    from sinkviz.widgets.long_context import LongContextExplorer
    from tiny_models import text

    jamba = tiny_jamba()
    long_text = text(40)
    ex = explore(jamba, long_text, long_context_tokens=50, render="canvas")
    assert isinstance(ex, LongContextExplorer) and ex.trace.layers == [1, 3]
    assert (ex.layer_slider.min, ex.layer_slider.max) == (1, 3) and ex.progress.max == 2
    dense = sinkviz.trace(jamba, long_text, capture=("attn",)).attentions[3][0].numpy()
    assert ex.select(3, 2)
    ex.show_window(size=ex.n_tokens)
    view, _, _ = ex.current_view()
    np.testing.assert_allclose(view.z, np.where(dense[2] > 0, dense[2], np.nan), atol=2e-6, rtol=1e-5, equal_nan=True)
    assert not ex.select(2, 0)
    assert "Layer 2, head 0 is out of range: layers [1, 3]" in ex.status.value
    ex.close()


def test_the_census_counts_a_hybrids_calls_through_its_attention_blocks_when_modules_carry_no_index():
    """A call from an attention module without ``layer_idx`` is the next attention block in forward order (1, then
    3), not the next block (0, then 1): the same α as with the indices."""
    import numpy as np

    from sinkviz.census import Census
    from sinkviz.models import attention_modules

    jamba = tiny_jamba()
    ids = torch.randint(0, 96, (1, 12), generator=torch.Generator().manual_seed(1))
    with_index = Census(jamba, seq_len=12, backend="torch")
    with_index.add(ids)
    expected = with_index.result().alpha
    modules = attention_modules(jamba.model)
    assert sorted(modules) == [1, 3]
    for module in modules.values():
        module.layer_idx = None
    without_index = Census(jamba, seq_len=12, backend="torch")
    without_index.add(ids)
    result = without_index.result()
    assert result.layers == [1, 3]
    np.testing.assert_array_equal(result.alpha, expected)


def _eager_maps(model, input_ids):
    """The model's own eager attention maps, one per block that returns one."""
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            return [a for a in model(input_ids=input_ids, output_attentions=True).attentions if a is not None]
    finally:
        model.set_attn_implementation("sdpa")


@pytest.mark.parametrize("build, attending, without", [("falcon_h1", [0, 1], []), ("zamba2", [1, 3], [0, 2])])
def test_hybrid_blocks_that_hold_attention_beside_a_mamba_mixer_are_traced_exactly(build, attending, without):
    """A "hybrid" block (Falcon-H1: attention in parallel with Mamba-2 in every block; Zamba2: a shared attention
    block before Mamba-2) attends: sinkviz traces it, equal to the model's own eager attention, where it once read
    "hybrid" as "no attention" and traced nothing from Falcon-H1."""
    import sinkviz
    import tiny_models

    model = getattr(tiny_models, f"tiny_{build}_model")()
    wrapped = sinkviz.wrap(model, char_tokenizer(False), f"tiny-{build}")
    assert wrapped.info.attention_layers == attending and wrapped.info.blocks_without_attention == without
    tr = sinkviz.trace(wrapped, "ab cd ef gh ij")
    assert tr.layers == attending
    eager = _eager_maps(model, tr.input_ids)
    assert len(eager) == len(attending)
    for layer, reference in zip(attending, eager):
        torch.testing.assert_close(tr.attentions[layer], reference.float(), atol=1e-6, rtol=1e-6)


def test_a_model_without_softmax_attention_is_refused_at_once():
    """A pure state-space model has no attention map to read: wrapping it fails with what its blocks are, not with
    an empty trace."""
    from transformers import Mamba2Config, Mamba2ForCausalLM

    import sinkviz
    from sinkviz.errors import NoAttentionLayersError

    config = Mamba2Config(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_heads=4, head_dim=16, state_size=4,
                          n_groups=1, expand=2)
    with pytest.raises(NoAttentionLayersError, match=r"'tiny-mamba2' \(mamba2\) has no softmax attention block "
                                                     r"\(its blocks: linear_attention\)"):
        sinkviz.wrap(Mamba2ForCausalLM(config).eval(), char_tokenizer(False), "tiny-mamba2")



def test_the_census_refuses_zamba2_saying_why():
    """Zamba2 computes its shared attention outside transformers' attention interface, where the census's kernels
    hook in: the census says so instead of returning nothing (the dense trace above still reads it)."""
    import sinkviz
    from sinkviz.census import Census
    from tiny_models import tiny_zamba2_model

    zamba = sinkviz.wrap(tiny_zamba2_model(), char_tokenizer(False), "tiny-zamba2")
    census = Census(zamba, seq_len=16, backend="torch")
    with pytest.raises(RuntimeError, match=r"did not run for layers \[1, 3\].*AttentionInterface"):
        census.add(torch.randint(0, 96, (1, 16), generator=torch.Generator().manual_seed(0)))
