"""Tiny random configs of every family sinkviz must capture correctly, saved with save_pretrained."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    BertConfig,
    Gemma3TextConfig,
    GPT2Config,
    GptOssConfig,
    LlamaConfig,
    MistralConfig,
    Qwen2Config,
    Qwen3Config,
    XLMRobertaConfig,
)
from transformers import PreTrainedTokenizerFast
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

VOCAB = 96
DECODER_COMMON = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)


def family_configs() -> dict[str, object]:
    """name -> config. Decoders use GQA (4 query heads, 2 KV heads) so the head mapping is exercised."""
    return {
        "llama": LlamaConfig(**DECODER_COMMON),
        "mistral": MistralConfig(**DECODER_COMMON, sliding_window=4),
        "qwen2": Qwen2Config(**DECODER_COMMON),
        "qwen3": Qwen3Config(**DECODER_COMMON, head_dim=8),
        "gemma3": Gemma3TextConfig(**DECODER_COMMON, head_dim=8, sliding_window=4,
                                   layer_types=["sliding_attention", "sliding_attention", "full_attention"]),
        "gpt_oss": GptOssConfig(**{**DECODER_COMMON, "intermediate_size": 32}, head_dim=8, num_local_experts=2,
                                num_experts_per_tok=1, sliding_window=4,
                                layer_types=["sliding_attention", "full_attention", "sliding_attention"]),
        "gpt2": GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=3, n_head=4, n_positions=128),
        "bert": BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=128),
        "xlm-roberta": XLMRobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                                        intermediate_size=64, max_position_embeddings=130),
    }


ENCODERS = {"bert", "xlm-roberta"}


def char_tokenizer(encoder: bool, *, bos: bool = False) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer with no merges over a tiny character vocabulary (offline, deterministic).
    Encoders wrap a text in ``<s> … </s>``; ``bos=True`` makes a decoder's tokenizer put ``<s>`` (id 1) first, as
    LLaMA's does.

    transformers 5 rebuilds some families' tokenizers (Qwen2, GPT-2, LLaMA) from vocab + merges; a BPE
    with single-character tokens survives that rebuild unchanged, where a word-level vocabulary does not.
    """
    chars = ["\u0120"] + list("abcdefghijklmnopqrstuvwxyz0123456789.,")
    words = ["<pad>", "<s>", "</s>", "<unk>"] + chars
    tok = Tokenizer(models.BPE({w: i for i, w in enumerate(words)}, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    if encoder:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
    elif bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def save_tiny(family: str, folder: Path, seed: int = 0) -> Path:
    """Build the family's tiny random model, save it (safetensors) and its tokenizer to `folder`."""
    torch.manual_seed(seed)
    config = family_configs()[family]
    cls = AutoModel if family in ENCODERS else AutoModelForCausalLM
    model = cls.from_config(config)
    if family == "gpt_oss":  # learned sink logits start at zero; make them matter
        with torch.no_grad():
            for module in model.modules():
                if hasattr(module, "sinks"):
                    module.sinks.normal_(0.0, 1.0)
    model.save_pretrained(folder, safe_serialization=True)
    char_tokenizer(family in ENCODERS).save_pretrained(folder)
    return folder


def tiny_long_llama(seed: int = 0):
    """The tiny random LLaMA with 1,024 positions (texts of a few hundred tokens fit), decoder tokenizer not included."""
    from transformers import LlamaConfig

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(LlamaConfig(**{**DECODER_COMMON, "max_position_embeddings": 1024}))


def save_tiny_long_llama(folder: Path) -> Path:
    """:func:`tiny_long_llama` and the decoder character tokenizer saved (safetensors) to ``folder``."""
    tiny_long_llama().save_pretrained(folder, safe_serialization=True)
    char_tokenizer(False).save_pretrained(folder)
    return folder


def text(n_words: int, offset: int = 0) -> str:
    """Deterministic lowercase text of `n_words` short words."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join(letters[(offset + 7 * i) % 26] + letters[(offset + 3 * i) % 26] for i in range(n_words))


def load_tiny(kind: str, tmp_path_factory):
    """A tiny random ``kind`` model saved in a temporary folder and loaded on the CPU with sinkviz.load."""
    import sinkviz

    return sinkviz.load(str(save_tiny(kind, tmp_path_factory.mktemp(kind))), device="cpu", progress=False)


def tiny_jamba_model():
    """A 4-block random Jamba (a Mamba/attention hybrid): blocks 0 and 2 Mamba, 1 and 3 attention (4 query heads,
    2 KV heads); builds and runs on the CPU in well under a second."""
    from transformers import JambaConfig, JambaForCausalLM

    torch.manual_seed(0)
    config = JambaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, attn_layer_period=2, attn_layer_offset=1,
                         expert_layer_period=2, expert_layer_offset=1, num_experts=2, num_experts_per_tok=1,
                         mamba_d_state=4, mamba_d_conv=4, mamba_expand=2, mamba_dt_rank=4,
                         max_position_embeddings=128)
    assert config.layers_block_type == ["mamba", "attention", "mamba", "attention"]
    return JambaForCausalLM(config).eval()


def tiny_falcon_h1_model():
    """A 2-block random Falcon-H1: every block a "hybrid", softmax attention (4 query heads, 2 KV heads) in parallel
    with a Mamba-2 mixer."""
    from transformers import FalconH1Config, FalconH1ForCausalLM

    torch.manual_seed(0)
    config = FalconH1Config(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, head_dim=8, mamba_d_ssm=32,
                            mamba_n_heads=4, mamba_d_head=8, mamba_n_groups=1, mamba_d_state=4, mamba_d_conv=4,
                            mamba_expand=2, max_position_embeddings=128)
    assert config.layers_block_type == ["hybrid", "hybrid"]
    return FalconH1ForCausalLM(config).eval()


def tiny_zamba2_model():
    """A 4-block random Zamba2: blocks 0 and 2 Mamba-2, 1 and 3 "hybrid" (Mamba-2 after one shared attention
    block, 4 heads)."""
    from transformers import Zamba2Config, Zamba2ForCausalLM

    torch.manual_seed(0)
    config = Zamba2Config(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                          layers_block_type=["mamba", "hybrid", "mamba", "hybrid"], num_attention_heads=4,
                          num_key_value_heads=4, attention_head_dim=16, mamba_d_state=4, mamba_d_conv=4,
                          mamba_expand=2, mamba_headdim=8, mamba_ngroups=1, n_mamba_heads=8, num_mem_blocks=1,
                          max_position_embeddings=128, use_mem_rope=True)
    return Zamba2ForCausalLM(config).eval()


def tiny_jamba():
    """The tiny Jamba wrapped with the decoder character tokenizer."""
    import sinkviz

    return sinkviz.wrap(tiny_jamba_model(), char_tokenizer(False), "tiny-jamba")
