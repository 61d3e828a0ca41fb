"""Training windows from an LMHarness token file, for the scale-out engines (written by the LMHarness exporter).

A token file is name.bin (uint16 or uint32 token ids) with name.bin.json beside it; its first train_tokens ids are
the training split. Each data-parallel rank draws its own windows from a generator seeded by (seed, rank), so ranks
see different batches, and a resumed run replays the same stream (state_dict holds how many batches were drawn).
"""
import json
import os

import numpy as np
import torch


class TokenWindows:
    def __init__(self, path: str, seq_len: int, batch: int, seed: int = 0, rank: int = 0):
        sidecar = path + ".json"
        if not (os.path.isfile(path) and os.path.isfile(sidecar)):
            raise FileNotFoundError(
                f"{path}: not an LMHarness token file (expected {os.path.basename(path)} with "
                f"{os.path.basename(sidecar)} beside it); pass the .bin the run was trained on, by absolute path")
        with open(sidecar, encoding="utf-8") as f:
            meta = json.load(f)
        dtype = {"uint16": np.uint16, "uint32": np.uint32}[meta["dtype"]]
        self.ids = np.memmap(path, dtype=dtype, mode="r")[: meta["train_tokens"]]
        if len(self.ids) <= seq_len + 1:
            raise ValueError(f"{path}: the training split has {len(self.ids)} tokens, fewer than seq_len + 2 = {seq_len + 2}")
        self.seq_len, self.batch, self.seed, self.rank = seq_len, batch, seed, rank
        self.draws = 0
        self.rng = np.random.default_rng([seed, rank])

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets), each (batch, seq_len) int64, targets shifted by one token."""
        starts = self.rng.integers(0, len(self.ids) - self.seq_len - 1, self.batch)
        self.draws += 1
        rows = np.stack([self.ids[s : s + self.seq_len + 1].astype(np.int64) for s in starts])
        x = torch.from_numpy(rows)
        return x[:, :-1], x[:, 1:]

    def state_dict(self) -> dict:
        return {"draws": self.draws, "seed": self.seed, "rank": self.rank}

    def load_state_dict(self, state: dict) -> None:
        self.rng = np.random.default_rng([self.seed, self.rank])
        for _ in range(state["draws"]):
            self.rng.integers(0, len(self.ids) - self.seq_len - 1, self.batch)
        self.draws = state["draws"]
