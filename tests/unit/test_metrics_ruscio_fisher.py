"""Fisher-trace reduction (Ruscio et al. 2025, fisher.ipynb)."""
import numpy as np
import pytest

from sinkviz.metrics.fisher import (
    depth_correlation,
    fisher_by_layer_corrected,
    fisher_by_layer_published,
    group_of_param_corrected,
    group_of_param_published,
    layer_of_param_corrected,
    layer_of_param_published,
)


@pytest.mark.parametrize(
    "name,layer,group",
    [
        ("model.layers.3.self_attn.q_proj.weight", "layer_3", "attention"),
        ("model.layers.12.mlp.down_proj.weight", "layer_12", "mlp"),
        ("model.embed_tokens.weight", "other", "embedding"),
        ("model.layers.0.input_layernorm.weight", "layer_0", None),
        ("bert.encoder.layer.5.attention.output.dense.weight", "layer_5", "attention"),
        ("bert.encoder.layer.5.intermediate.dense.weight", "layer_5", "mlp"),
        ("bert.embeddings.token_type_embeddings.weight", "other", "embedding"),
        ("transformer.h.7.attn.c_attn.weight", "other", "attention"),
    ],
)
def test_published_parsing(name, layer, group):
    assert layer_of_param_published(name) == layer
    assert group_of_param_published(name) == group


def test_corrected_parsing_gpt2_blocks_and_norms():
    assert layer_of_param_corrected("transformer.h.7.attn.c_attn.weight") == "layer_7"
    assert layer_of_param_corrected("model.layers.3.mlp.up_proj.weight") == "layer_3"
    assert group_of_param_corrected("model.layers.0.input_layernorm.weight") == "norm"
    assert group_of_param_corrected("bert.encoder.layer.1.attention.output.LayerNorm.weight") == "norm"
    assert group_of_param_corrected("transformer.h.0.ln_1.weight") == "norm"
    assert group_of_param_corrected("model.layers.0.self_attn.k_proj.weight") == "attention"


def test_reduction_averages_over_samples_and_skips_zero():
    s1 = {"model.layers.0.self_attn.q_proj.weight": 2.0, "model.layers.1.mlp.up_proj.weight": 4.0, "model.norm.weight": 1.0}
    s2 = {"model.layers.0.self_attn.q_proj.weight": 0.0, "model.layers.1.mlp.up_proj.weight": 2.0, "model.norm.weight": 3.0}
    pub = fisher_by_layer_published([s1, s2])
    assert pub["layer_wise"] == {"layer_0": 1.0, "layer_1": 3.0, "other": 2.0}
    assert pub["param_groups"] == {"attention": 1.0, "mlp": 3.0, "embedding": 0.0}
    np.testing.assert_allclose(pub["layer_values"], [1.0, 3.0])
    cor = fisher_by_layer_corrected([s1, s2])
    assert cor["param_groups"]["norm"] == pytest.approx(2.0)


def test_depth_correlation():
    d = depth_correlation([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0])
    assert d["pearson_r"] == pytest.approx(1.0) and d["spearman_rho"] == pytest.approx(1.0)
    assert np.isnan(depth_correlation([0, 1], [1.0, 2.0])["pearson_r"])
    with pytest.raises(ValueError):
        fisher_by_layer_published([])
