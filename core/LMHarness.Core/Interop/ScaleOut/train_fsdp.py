# Continue training an LMHarness Hugging Face export with accelerate + PyTorch FSDP on a harness token file.
# Written by the LMHarness exporter for accelerate >= 1.0 and transformers >= 4.56 (the `dtype=` argument).
#   accelerate launch --config_file scaleout/accelerate_fsdp.yaml --num_processes <GPUs> scaleout/train_fsdp.py \
#       --model <export folder> --tokens <token file .bin> --steps 1000
import argparse
import math
import os
import sys

import torch
from accelerate import Accelerator
from transformers import AutoModelForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lmharness_tokens import TokenWindows  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, help="the export folder (config.json + model.safetensors)")
p.add_argument("--tokens", required=True, help="an LMHarness token file (.bin with its .bin.json)")
p.add_argument("--out", default="continued")
p.add_argument("--steps", type=int, default=1000)
p.add_argument("--batch", type=int, default=8, help="sequences per GPU per step")
p.add_argument("--lr", type=float, default=3e-4)
p.add_argument("--warmup", type=int, default=100)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()

acc = Accelerator()
model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
T = getattr(model.config, "max_position_embeddings", None) or model.config.n_positions
data = TokenWindows(a.tokens, T, a.batch, a.seed, acc.process_index)
opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
# Warmup then cosine to zero over --steps optimizer steps. The scheduler stays out of accelerate.prepare: a
# prepared scheduler is stepped once per process for every optimizer step (num_processes times too fast).
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda s: min(1.0, (s + 1) / a.warmup) * 0.5 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps)))
model, opt = acc.prepare(model, opt)
model.train()
for step in range(a.steps):
    x, y = (t.to(acc.device) for t in data.next())
    logits = model(input_ids=x).logits
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
    acc.backward(loss)
    acc.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad()
    if step % 50 == 0 or step == a.steps - 1:
        acc.print(f"step {step} loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.2e}")
acc.wait_for_everyone()
acc.unwrap_model(model).save_pretrained(a.out, is_main_process=acc.is_main_process, save_function=acc.save,
                                        state_dict=acc.get_state_dict(model), safe_serialization=True)
