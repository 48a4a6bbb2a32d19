"""sinkviz.papers.ruscio2025 and sinkviz.papers.fisher on tiny random models: batching/padding never changes a
number, the published and corrected Fisher losses differ exactly where the notebook's padding enters."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import load_tiny, save_tiny, text

import sinkviz
from sinkviz.papers import ruscio2025
from sinkviz.papers.fisher import fisher_per_sample
from sinkviz.metrics import frames, head_average, topology

TEXTS = [text(5), text(9, 2), text(3, 5), text(7, 1)]


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    return load_tiny("llama", tmp_path_factory)


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return load_tiny("bert", tmp_path_factory)


def test_batched_analyses_equal_one_text_at_a_time(llama):
    batched = ruscio2025.trace_texts(llama, TEXTS, batch_size=4)
    single = [ruscio2025.trace_texts(llama, [t], batch_size=1)[0] for t in TEXTS]
    for a, b in zip(ruscio2025.iter_samples(batched), ruscio2025.iter_samples(single)):
        assert a.tokens == b.tokens
        np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)
        np.testing.assert_allclose(a.hidden, b.hidden, atol=1e-4)
    for fn in (ruscio2025.topology_by_layer, ruscio2025.spectral_by_layer, ruscio2025.rmt_by_layer,
               ruscio2025.influence_by_layer):
        rb, rs = ruscio2025.summarize(fn(batched)), ruscio2025.summarize(fn(single))
        for x, y in zip(rb, rs):
            assert (x["layer"], x["variant"], x["metric"]) == (y["layer"], y["variant"], y["metric"])
            np.testing.assert_allclose(x["mean"], y["mean"], rtol=1e-3, atol=1e-4, err_msg=str(x))


def test_published_topology_artefact_on_a_real_causal_capture(llama):
    traces = ruscio2025.trace_texts(llama, TEXTS)
    res = ruscio2025.topology_by_layer(traces)
    for layer, variants in res.items():
        assert variants["published"]["betti0"] == variants["published"]["n_tokens"]  # "Betti0" = token count
        assert set(variants["published"]["betti1"]) == {0.0}
    s = next(ruscio2025.iter_samples(traces))
    cor = topology.persistence_corrected(head_average(s.layer_attention(0)))
    fin = cor.dgms[0][np.isfinite(cor.dgms[0][:, 1])]
    assert np.all(fin[:, 1] < 1.0)


def test_frame_verdict_matches_per_sample_reduction(llama, bert):
    for m in (llama, bert):
        traces = ruscio2025.trace_texts(m, TEXTS, batch_size=3)
        v = ruscio2025.frame_verdict(traces)
        hs = [frames.head_sinks(s.attention, causal=s.causal, tokens=s.tokens, special_positions=s.special_positions,
                                layers=s.layers) for s in ruscio2025.iter_samples(traces)]
        again = frames.classify_frames(hs)
        assert v.label == again.label and v.layer_table() == again.layer_table()
        assert v.label in ("centralized", "distributed", "bidirectional", "undetermined")
        assert [lf.layer for lf in v.layers] == list(range(m.info.n_layers))
    bert_samples = list(ruscio2025.iter_samples(ruscio2025.trace_texts(bert, TEXTS[:1])))
    assert bert_samples[0].causal is False and bert_samples[0].special_positions == [0, len(bert_samples[0].tokens) - 1]


def test_gsa_uses_the_residual_stream_entering_the_layer(llama):
    tr = ruscio2025.trace_texts(llama, TEXTS[:1])[0]
    from sinkviz.metrics.influence import gsa_published

    res = ruscio2025.influence_by_layer(tr, layers=[1])
    expected = gsa_published(head_average(tr.attention_stack(0)[1].astype(np.float64)), tr.hidden(1, 0))
    assert res[1]["published"]["gsa"][0] == pytest.approx(expected, abs=1e-6)


def test_published_transformation_magnitude_reads_the_post_norm_state_at_the_last_layer(llama):
    """attention_value.ipynb takes h^{l+1} = HF hidden_states[l + 1]; after the last block that is post final norm."""
    from sinkviz.metrics.influence import transformation_magnitude_corrected, transformation_magnitude_published

    tr = ruscio2025.trace_texts(llama, TEXTS[:1])[0]
    last = llama.info.n_layers - 1
    s = next(ruscio2025.iter_samples(tr))
    n = s.hidden.shape[1]
    np.testing.assert_array_equal(s.block_output(last, "published"), tr.final_hidden[0, :n].numpy())
    np.testing.assert_array_equal(s.block_output(last, "corrected"), s.hidden[last + 1])
    np.testing.assert_array_equal(s.block_output(0, "published"), s.block_output(0, "corrected"))
    assert not np.allclose(s.hidden[last + 1], tr.final_hidden[0, :n].numpy())  # the final norm changes it
    res = ruscio2025.influence_by_layer(tr, layers=[0, last])
    h_in = s.hidden[last]
    pub = np.mean(transformation_magnitude_published(h_in, tr.final_hidden[0, :n].numpy()))
    cor = np.mean(transformation_magnitude_corrected(h_in, s.hidden[last + 1]))
    assert res[last]["published"]["transformation_magnitude"][0] == pytest.approx(pub, rel=1e-6)
    assert res[last]["corrected"]["transformation_magnitude"][0] == pytest.approx(cor, rel=1e-6)
    # with the same end state (layer 0) the two variants agree (no value reaches the published 1e3 rescaling)
    assert res[0]["published"]["transformation_magnitude"][0] == pytest.approx(
        res[0]["corrected"]["transformation_magnitude"][0], rel=1e-6)


def test_frames_over_training_two_checkpoints(tmp_path):
    a = sinkviz.load(str(save_tiny("llama", tmp_path / "a", seed=0)), device="cpu", progress=False)
    b = sinkviz.load(str(save_tiny("llama", tmp_path / "b", seed=1)), device="cpu", progress=False)
    rows = ruscio2025.frames_over_training([ruscio2025.trace_texts(a, TEXTS), ruscio2025.trace_texts(b, TEXTS)], [0, 10])
    assert [r["step"] for r in rows] == [0, 10]
    for r in rows:
        assert 0.0 <= r["frame_top_rate"] <= 1.0 and np.isfinite(r["corrected_marchenko_pastur_ks"])
        assert isinstance(r["verdict"], frames.FrameVerdict)


def test_fisher_published_equals_corrected_without_padding(llama):
    longest = max(TEXTS, key=len)
    pub = fisher_per_sample(llama, [longest], variant="published")[0]
    cor = fisher_per_sample(llama, [longest], variant="corrected")[0]
    assert pub.keys() == cor.keys() and len(pub) > 0
    for k in pub:
        assert pub[k] == pytest.approx(cor[k], rel=1e-4)
    # in a padded batch the shorter texts' published loss also predicts padding -> different gradients
    pubs = fisher_per_sample(llama, TEXTS, variant="published")
    cors = fisher_per_sample(llama, TEXTS, variant="corrected")
    lengths = [len(llama.tokenizer(t)["input_ids"]) for t in TEXTS]
    for p, c, n in zip(pubs, cors, lengths):
        same = all(p[k] == pytest.approx(c[k], rel=1e-4) for k in c)
        assert same == (n == max(lengths))
    assert all(p.grad is None for p in llama.model.parameters())


def test_fisher_needs_a_language_model_head(bert, tmp_path):
    with pytest.raises(ValueError, match="language-model head"):
        fisher_per_sample(bert, TEXTS[:1])
    from transformers import AutoModelForMaskedLM
    from tiny_models import char_tokenizer, family_configs

    torch.manual_seed(0)
    mlm = AutoModelForMaskedLM.from_config(family_configs()["bert"])
    tok = char_tokenizer(True)
    tok.add_special_tokens({"mask_token": "<unk>"})

    loaded = sinkviz.wrap(mlm, tok, name="tiny BERT with an MLM head")
    assert loaded.info.causal is False

    pub = fisher_per_sample(loaded, TEXTS, variant="published", seed=3)
    cor = fisher_per_sample(loaded, TEXTS, variant="corrected", seed=3)
    assert len(pub) == len(cor) == len(TEXTS)
    assert any(pub[i] != cor[i] for i in range(len(TEXTS)))  # loss on every position vs masked positions only
