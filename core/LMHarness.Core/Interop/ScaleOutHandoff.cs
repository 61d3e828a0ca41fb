using System.Globalization;
using System.Text;
using LMHarness.Config;
using LMHarness.IO;

namespace LMHarness.Interop;

/// <summary>
/// TorchSharp has no distributed training, so a recipe that outgrows one machine continues on an existing engine
/// from the HF export. This writes, into <c>scaleout/</c> next to the export, what those engines need for the
/// model's shape: for Llama a torchtitan job TOML plus the <c>TransformerModelArgs</c> flavor to register
/// (torchtitan builds its FFN width as multiple_of * ceil(ffn_dim_multiplier * floor(8 d / 3) / multiple_of), so
/// multiple_of = ffn_hidden and ffn_dim_multiplier = min(1, ffn_hidden / floor(8 d / 3)) reproduce ffn_hidden
/// exactly); for both layouts a Hugging Face accelerate FSDP config (wrapping each LlamaDecoderLayer / GPT2Block)
/// with a short training script over a harness token file, and a README with the commands.
/// </summary>
public static class ScaleOutHandoff
{
    public const string Folder = "scaleout";

    /// <summary>torchtitan's (multiple_of, ffn_dim_multiplier) that make its Llama FFN exactly <paramref name="ffnHidden"/> wide.</summary>
    public static (int MultipleOf, double FfnDimMultiplier) TorchtitanFfn(int dModel, int ffnHidden)
    {
        int h0 = (int)(2.0 * 4 * dModel / 3);
        return (ffnHidden, Math.Min(1.0, (double)ffnHidden / h0));
    }

    /// <summary>Writes the scale-out files for <paramref name="config"/> into <c>dir/scaleout</c>; returns the files written.</summary>
    public static IReadOnlyList<string> Write(string dir, ModelConfig config, HfArchitecture arch)
    {
        var outDir = Path.Combine(dir, Folder);
        Directory.CreateDirectory(outDir);
        var written = new List<string>();
        void Put(string name, string text) { var p = Path.Combine(outDir, name); AtomicFile.WriteAllText(p, text); written.Add(p); }
        string F(double x) => x.ToString("R", CultureInfo.InvariantCulture);

        if (arch == HfArchitecture.Llama)
        {
            var (multipleOf, mult) = TorchtitanFfn(config.DModel, config.FfnHidden);
            int kv = config.AttentionKinds[0] == AttentionKind.Gqa ? config.NKvHead : config.NHead;
            Put("torchtitan_flavor.py", $$"""
                # Register this model's shape as a torchtitan llama3 flavor: paste the entry into the
                # `llama3_args` dict of torchtitan/models/llama3/__init__.py (torchtitan >= 0.1).
                # multiple_of / ffn_dim_multiplier are chosen so torchtitan's FFN width equals intermediate_size = {{config.FfnHidden}}.
                from torchtitan.models.llama3.model.args import TransformerModelArgs

                lmharness = TransformerModelArgs(
                    dim={{config.DModel}},
                    n_layers={{config.NLayer}},
                    n_heads={{config.NHead}},
                    n_kv_heads={{kv}},
                    vocab_size={{config.VocabSize}},
                    multiple_of={{multipleOf}},
                    ffn_dim_multiplier={{F(mult)}},
                    norm_eps={{F(config.NormEps)}},
                    rope_theta={{F(config.RopeTheta)}},
                    max_seq_len={{config.ContextLength}},
                )
                """);
            var tieNote = config.TieEmbeddings
                ? "# NOTE: this model ties lm_head to embed_tokens; torchtitan's Llama has a separate output layer, so its HF\n# loader expects lm_head.weight: add a copy of model.embed_tokens.weight named lm_head.weight to the export first.\n"
                : "";
            var biasNote = config.Bias ? "# NOTE: this model has linear biases; torchtitan's Llama has none. Continue with accelerate instead.\n" : "";
            Put("torchtitan.toml", $"""
                # torchtitan job for the exported model (https://github.com/pytorch/torchtitan).
                # Run: CONFIG_FILE=scaleout/torchtitan.toml ./run_train.sh   (after registering torchtitan_flavor.py as "lmharness")
                {tieNote}{biasNote}
                [job]
                dump_folder = "./outputs"
                description = "continued from an LMHarness export"

                [model]
                name = "llama3"
                flavor = "lmharness"
                hf_assets_path = ".."   # tokenizer assets; the harness tokenizer identity is in ../lmharness_tokenizer.json

                [optimizer]
                name = "AdamW"
                lr = 3e-4
                eps = 1e-8
                weight_decay = 0.1

                [lr_scheduler]
                warmup_steps = 200

                [training]
                local_batch_size = 8
                seq_len = {config.ContextLength}
                max_norm = 1.0
                steps = 10000

                [parallelism]
                data_parallel_replicate_degree = 1
                data_parallel_shard_degree = -1   # FSDP over every GPU
                tensor_parallel_degree = 1

                [checkpoint]
                enable = true
                folder = "checkpoint"
                interval = 500
                initial_load_path = ".."          # the HF export folder (model.safetensors + config.json)
                initial_load_in_hf = true
                initial_load_model_only = true

                [activation_checkpoint]
                mode = "selective"
                """);
        }

        var layer = arch == HfArchitecture.Llama ? "LlamaDecoderLayer" : "GPT2Block";
        Put("accelerate_fsdp.yaml", $"""
            # Hugging Face accelerate + PyTorch FSDP: shard parameters, gradients and optimizer state over all GPUs.
            compute_environment: LOCAL_MACHINE
            distributed_type: FSDP
            mixed_precision: bf16
            num_machines: 1
            num_processes: 8          # GPUs on this machine; for several machines set num_machines, machine_rank, main_process_ip
            machine_rank: 0
            main_training_function: main
            use_cpu: false
            fsdp_config:
              fsdp_version: 1
              fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
              fsdp_transformer_layer_cls_to_wrap: {layer}
              fsdp_sharding_strategy: FULL_SHARD
              fsdp_backward_prefetch: BACKWARD_PRE
              fsdp_state_dict_type: SHARDED_STATE_DICT
              fsdp_cpu_ram_efficient_loading: true
              fsdp_sync_module_states: true
              fsdp_use_orig_params: true
              fsdp_offload_params: false
            """);
        Put("train_fsdp.py", """
            # Continue training an LMHarness HF export with accelerate/FSDP on a harness token file (name.bin + name.bin.json).
            # accelerate launch --config_file scaleout/accelerate_fsdp.yaml scaleout/train_fsdp.py --model . --tokens data/train.bin
            import argparse, json, math, numpy as np, torch
            from accelerate import Accelerator
            from transformers import AutoModelForCausalLM

            p = argparse.ArgumentParser()
            p.add_argument("--model", required=True); p.add_argument("--tokens", required=True)
            p.add_argument("--out", default="continued"); p.add_argument("--steps", type=int, default=1000)
            p.add_argument("--batch", type=int, default=8); p.add_argument("--lr", type=float, default=3e-4)
            p.add_argument("--seed", type=int, default=0)
            a = p.parse_args()

            side = json.load(open(a.tokens + ".json"))
            ids = np.memmap(a.tokens, dtype=np.uint16 if side["dtype"] == "uint16" else np.uint32, mode="r")[: side["train_tokens"]]
            acc = Accelerator()
            model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32)
            T = model.config.max_position_embeddings if hasattr(model.config, "max_position_embeddings") else model.config.n_positions
            opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(s, a.steps) / a.steps)))
            model, opt, sched = acc.prepare(model, opt, sched)
            rng = np.random.default_rng(a.seed + acc.process_index)
            model.train()
            for step in range(a.steps):
                starts = rng.integers(0, len(ids) - T - 1, a.batch)
                x = torch.from_numpy(np.stack([ids[s : s + T + 1].astype(np.int64) for s in starts])).to(acc.device)
                logits = model(input_ids=x[:, :-1]).logits
                loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), x[:, 1:].flatten())
                acc.backward(loss); acc.clip_grad_norm_(model.parameters(), 1.0)
                opt.step(); sched.step(); opt.zero_grad()
                if step % 50 == 0: acc.print(f"step {step} loss {loss.item():.4f}")
            acc.wait_for_everyone()
            acc.unwrap_model(model).save_pretrained(a.out, is_main_process=acc.is_main_process, save_function=acc.save,
                                                     state_dict=acc.get_state_dict(model), safe_serialization=True)
            """);
        var readme = new StringBuilder($"""
            # Scale-out hand-off

            The parent folder is a Hugging Face {(arch == HfArchitecture.Llama ? "LlamaForCausalLM" : "GPT2LMHeadModel")} checkpoint
            ({config.NLayer} layers, d_model {config.DModel}, {config.NHead} heads, context {config.ContextLength}, vocab {config.VocabSize}).

            ## Hugging Face accelerate + FSDP (Llama and GPT-2)

                pip install torch transformers accelerate
                accelerate launch --config_file scaleout/accelerate_fsdp.yaml scaleout/train_fsdp.py --model . --tokens path/to/train.bin --steps 1000

            The result (`continued/`) is again an HF checkpoint; `scripts/import.csx continued` brings it back into the harness.

            """);
        if (arch == HfArchitecture.Llama)
            readme.Append("""
                ## torchtitan (Llama)

                1. Register `scaleout/torchtitan_flavor.py` as flavor `lmharness` in torchtitan/models/llama3/__init__.py.
                2. `CONFIG_FILE=scaleout/torchtitan.toml ./run_train.sh` (torchtitan loads the HF weights through
                   `initial_load_in_hf`; FSDP degree -1 shards over every GPU).

                """);
        Put("README.md", readme.ToString());
        return written;
    }
}
