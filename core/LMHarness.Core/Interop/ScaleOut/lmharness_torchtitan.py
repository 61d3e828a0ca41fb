# torchtitan @@torchtitan_version@@ extension for this LMHarness export, imported through
# [experimental] custom_import in torchtitan.toml (nothing in torchtitan is edited). It makes model name
# "lmharness" resolve to torchtitan's llama3 train spec with
#   - flavor "lmharness": this model's shape (below), with RoPE scaling factor 1.0: torchtitan's Llama applies
#     Llama-3.1 RoPE scaling (factor 8) by default, which would change what the exported model computes;
#   - the harness token file as the data ([training] dataset_path), read by lmharness_tokens.TokenWindows;
#   - @@tokenizer_note@@
# multiple_of / ffn_dim_multiplier are chosen so torchtitan's FFN width equals intermediate_size = @@ffn_hidden@@.
import dataclasses
import os
import sys

import torch
import torchtitan.protocols.train_spec as train_spec_module
from torchtitan.models.llama3.model.args import RoPEScalingArgs, TransformerModelArgs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lmharness_tokens import TokenWindows  # noqa: E402

NAME = "lmharness"
FLAVOR = "lmharness"
ARGS = TransformerModelArgs(
    dim=@@dim@@,
    n_layers=@@n_layers@@,
    n_heads=@@n_heads@@,
    n_kv_heads=@@n_kv_heads@@,
    vocab_size=@@vocab_size@@,
    multiple_of=@@multiple_of@@,
    ffn_dim_multiplier=@@ffn_dim_multiplier@@,
    norm_eps=@@norm_eps@@,
    rope_theta=@@rope_theta@@,
    rope_scaling_args=RoPEScalingArgs(scaling_factor=1.0),
    max_seq_len=@@max_seq_len@@,
)
KEEP_TOKENIZER = @@keep_tokenizer@@


class TokenFileLoader:
    """The dataloader torchtitan's trainer iterates: ({"input": x}, labels) batches, checkpointable."""

    def __init__(self, path: str, seq_len: int, batch: int, seed: int, rank: int):
        self.windows = TokenWindows(path, seq_len, batch, seed, rank)
        self.rank = rank

    def __iter__(self):
        while True:
            x, y = self.windows.next()
            yield {"input": x}, y

    def state_dict(self):
        return {f"lmharness_dp_rank_{self.rank}": self.windows.state_dict()}

    def load_state_dict(self, state):
        key = f"lmharness_dp_rank_{self.rank}"
        if key in state:
            self.windows.load_state_dict(state[key])


def build_token_file_dataloader(dp_world_size, dp_rank, tokenizer, job_config, **kwargs):
    path = job_config.training.dataset_path
    if not path or not os.path.isabs(path):
        raise ValueError(f"[training] dataset_path = {path!r}: set it to the absolute path of an LMHarness token file (.bin)")
    seed = job_config.debug.seed if getattr(job_config, "debug", None) and job_config.debug.seed is not None else 0
    return TokenFileLoader(path, job_config.training.seq_len, job_config.training.local_batch_size, seed, dp_rank)


_original_get_train_spec = train_spec_module.get_train_spec


def get_train_spec(name):
    if name != NAME:
        return _original_get_train_spec(name)
    llama3 = _original_get_train_spec("llama3")
    return dataclasses.replace(
        llama3,
        model_args={FLAVOR: ARGS},
        build_dataloader_fn=build_token_file_dataloader,
        build_tokenizer_fn=llama3.build_tokenizer_fn if KEEP_TOKENIZER else None,
        build_validator_fn=None,
    )


# train.py looks the spec up as train_spec_module.get_train_spec(job_config.model.name), after this import.
train_spec_module.get_train_spec = get_train_spec
