"""The pretraining lab: small LLaMA-style models trained in minutes to watch attention sinks emerge.

Scaled-down reruns of Gu et al. 2025, §§4–7 (see ``sinkviz lab list``). Importing this package registers
the ``sinkviz_lab`` model type with transformers' Auto classes (``sinkviz.load`` finds it by itself through
the ``sinkviz.model_types`` entry point), so lab checkpoints load with ``sinkviz.load(path)`` /
``AutoModelForCausalLM.from_pretrained(path)``.
"""

from sinkviz.lab.model import SinkLabConfig, SinkLabForCausalLM, SinkLabModel, register
from sinkviz.lab.results import load_results, paper_reference
from sinkviz.lab.train import RunConfig, RunExistsError, list_configs, load_config, load_or_run, run

__all__ = [
    "RunConfig", "RunExistsError", "SinkLabConfig", "SinkLabForCausalLM", "SinkLabModel", "list_configs",
    "load_config", "load_or_run", "load_results", "paper_reference", "register", "run",
]
