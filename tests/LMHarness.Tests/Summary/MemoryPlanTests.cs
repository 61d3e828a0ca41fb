using LMHarness.Config;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Summary;
using LMHarness.Tests.Model;
using LMHarness.Training.Optimizers;

namespace LMHarness.Tests.Summary;

/// <summary>
/// The memory plan's arithmetic, term by term, with the figures the CPU measured beside the formulas (bench memory
/// re-measures them: activations per block kind within 3 %, the planned peak within 25 % at four sizes, one with most
/// of its parameters frozen).
/// </summary>
public sealed class MemoryPlanTests
{
    const long N220 = 221_406_208; // llama3-220M's parameters

    [Fact]
    public void Each_block_kind_keeps_what_autograd_saves()
    {
        var nano = Presets.Get("nanogpt-cpu");  // d 128, 4 heads, f 512: LayerNorm, MHA, GELU
        var llama = Presets.Get("llama-cpu");   // d 128, 4 heads / 2 kv, f 392: RMSNorm, GQA, SwiGLU, RoPE
        long Layer(ModelConfig c, TrainingDtype dtype = TrainingDtype.Fp32) => ActivationMemory.LayerBytesPerToken(c, 0, 64, dtype);

        // Two LayerNorms (input and output, 2 x 4 d, + mean and rstd), SDPA (Q, K, V, output 4 x 4 d + logsumexp 4 H),
        // GELU (its input and output, 2 x 4 f). Measured: 2,056 floats a token and layer.
        Layer(nano).Should().Be(2 * (8 * 128 + 8) + (16 * 128 + 4 * 4) + 8 * 512).And.Be(2056 * 4);
        // Two RMSNorms (fp32 input, x / rms, output: 12 d + 1 / rms), SDPA with K and V repeated to 4 heads, SwiGLU (4 x 4 f).
        Layer(llama).Should().Be(2 * (12 * 128 + 4) + (16 * 128 + 4 * 4) + 16 * 392);
        // bf16: the norms keep an fp32 copy of their input (4 d) and two bf16 tensors (2 x 2 d); the rest in 2 bytes.
        Layer(llama, TrainingDtype.Bf16).Should().Be(2 * (8 * 128 + 4) + (8 * 128 + 4 * 4) + 8 * 392);
        // MQA: repeating one K/V head is a view, so K and V stay 32 wide. With dropout SDPA's math path copies them.
        Layer(llama with { NKvHead = 1 }).Should().Be(Layer(llama) - 2 * 4 * (128 - 32));
        Layer(llama with { NKvHead = 1, Dropout = 0.1 }).Should().Be(Layer(llama with { Dropout = 0.1 }));
        // Dropout: SDPA's math path keeps the probabilities, the mask and the dropped map (3 x 4 H T) instead of the
        // logsumexp, and each residual branch a 4 d mask.
        Layer(llama with { Dropout = 0.1 }).Should().Be(Layer(llama) - 4 * 4 + 3 * 4 * 4 * 64 + 2 * 4 * 128);
        // Raw attention keeps the probabilities (4 H T) instead of the logsumexp.
        Layer(nano with { AttentionKinds = [AttentionKind.Raw] }).Should().Be(Layer(nano) - 4 * 4 + 4 * 4 * 64);
        // Differential: Q, K, V, o_proj's input, both maps (2 H T) and their difference (H T), the head norm (4 d + 4 d + 4 H).
        Layer(llama with { AttentionKinds = [AttentionKind.Differential] })
            .Should().Be(2 * (12 * 128 + 4) + (24 * 128 + 3 * 4 * 4 * 64 + 4 * 4) + 16 * 392);
        // QK-norm: fp32 input and x / rms of Q (d) and K (kv = 64), and 1 / rms of each of the 4 + 2 heads.
        Layer(llama with { QkNorm = true }).Should().Be(Layer(llama) + 8 * (128 + 64) + 4 * 6);
        Layer(llama with { FeedForwardKinds = [FeedForwardKind.Relu2] }).Should().Be(Layer(llama) - 8 * 392);
        Layer(llama with { ValueEmbeddings = true }).Should().Be(Layer(llama) + 8, "the token ids the table looks up");
    }

    [Fact]
    public void A_forward_keeps_every_block_the_final_norm_and_the_ids_or_only_the_block_inputs_when_recomputed()
    {
        var llama = Presets.Get("llama-cpu");
        var whole = ActivationMemory.Of(llama, 32, 64, TrainingDtype.Fp32);
        long tokens = 32 * 64, layer = ActivationMemory.LayerBytesPerToken(llama, 0, 64, TrainingDtype.Fp32);
        whole.Total.Should().Be(tokens * (4 * layer + (12 * 128 + 4) + 8));
        whole.BackwardWorkspace.Should().Be(tokens * layer, "one block's gradients");
        var recomputed = ActivationMemory.Of(llama with { RecomputeActivations = true }, 32, 64, TrainingDtype.Fp32);
        recomputed.Total.Should().Be(tokens * (4 * 4 * 128 + (12 * 128 + 4) + 8));
        recomputed.BackwardWorkspace.Should().Be(2 * tokens * layer, "a recomputed block and its gradients");
        // Raw and differential attention also keep a (T, T) bool mask per layer.
        var raw = llama with { AttentionKinds = [AttentionKind.Raw] };
        long rawLayer = tokens * ActivationMemory.LayerBytesPerToken(raw, 0, 64, TrainingDtype.Fp32) + 64 * 64;
        ActivationMemory.Of(raw, 32, 64, TrainingDtype.Fp32).Layers.Should().OnlyContain(b => b == rawLayer);
    }

    [Fact]
    public void A_bf16_step_of_the_default_preset_peaks_in_the_optimizer_step()
    {
        var training = new TrainingConfig { MicroBatch = 2, ContextLength = 256, Dtype = TrainingDtype.Bf16 };
        var plan = MemoryPlan.For(Presets.Get("llama3-220M"), training, 0, "none");
        long rows = 2 * 256, logits = rows * 50_304, embedding = 50_304L * 1024;
        plan.Persistent.Select(t => (t.Name, t.Bytes)).Should().Equal(
            ("runtime", 0L), ("warm-up", MemoryPlan.CpuWarmupBytes), ("weights", 4 * N220), ("gradients", 4 * N220), ("AdamW state", 8 * N220), ("bf16 copy", 2 * N220));
        // 12 bf16 layers of 24 d + 8 f + 4 H + 8 bytes a token, the final RMSNorm (8 d + 4), the ids (8).
        plan.ActivationBytes.Should().Be(rows * (12 * (24 * 1024 + 8 * 3584 + 4 * 16 + 8) + (8 * 1024 + 4) + 8));
        // The logits (103 MB) are more than a tile: auto fuses the loss. Its tile is 512 rows x 16,384 ids (32 MB of fp32
        // logits, 6 bytes each with the bf16 copy); dh in fp32 and bf16, dW in bf16, the row logsumexps.
        var phases = plan.Phases.ToDictionary(p => p.Name, p => p.Bytes);
        phases["loss"].Should().Be(plan.ActivationBytes + 6L * 512 * 16_384 + 6L * rows * 1024 + 2 * embedding + 4 * rows);
        phases["optimizer step"].Should().Be(2 * N220 + 2 * 4 * embedding, "bf16 gradients and AdamW's two temporaries of the embedding: no logits are held");
        phases["evaluation"].Should().Be(2 * N220 + 6L * 512 * 16_384 + 8 * rows);
        plan.PeakPhase.Name.Should().Be("optimizer step");
        plan.PeakBytes.Should().Be(MemoryPlan.CpuWarmupBytes + 18 * N220 + phases["optimizer step"]);

        // The logits path (fused_loss off): the loss's backward holds 12 bytes a logit, evaluation 8; nothing is held after.
        var logitsPath = MemoryPlan.For(Presets.Get("llama3-220M"), training with { FusedLoss = FusedLossMode.Off }, 0, "none").Phases.ToDictionary(p => p.Name, p => p.Bytes);
        logitsPath["loss"].Should().Be(plan.ActivationBytes + 12 * logits);
        logitsPath["optimizer step"].Should().Be(phases["optimizer step"]);
        logitsPath["evaluation"].Should().Be(2 * N220 + 8 * logits);
    }

    [Fact]
    public void The_logits_term_follows_the_rows_materialised_at_once()
    {
        var nano = Presets.Get("nanogpt-cpu") with { VocabSize = 50_304 };
        var t = new TrainingConfig { MicroBatch = 12, ContextLength = 64, FusedLoss = FusedLossMode.Off };
        var plan = MemoryPlan.For(nano, t, 0, "none");
        plan.LossRows.Should().Be(768);
        plan.LossPeakBytes.Should().Be(12L * 768 * 50_304, "logits' log-probabilities and both gradients at the loss's backward (the step no longer holds the logits)");
        plan.HeldLogitsBytes.Should().Be(0);
        plan.PeakPhase.Name.Should().Be("loss");
        LossMemory.Logits(768, 50_304, softcap: true, TrainingDtype.Fp32, logitsHeld: true).PeakBytes.Should().Be(20L * 768 * 50_304, "the soft cap's tanh");
        // Accumulation no longer multiplies the logits: each micro-batch's are freed before the next.
        MemoryPlan.For(nano, t with { GradAccumulation = 4 }, 0, "none").PeakBytes.Should().Be(plan.PeakBytes);

        // Fused (auto: 147 MB of logits are more than a tile): a tile of 768 x 10,922 ids, dh and dW in fp32.
        var fused = MemoryPlan.For(nano, t with { FusedLoss = FusedLossMode.Auto }, 0, "none");
        var tile = LMHarness.Model.FusedLinearCrossEntropy.Tiles.For(768, 50_304);
        (tile.Rows, tile.Vocab).Should().Be((768L, 10_922L));
        fused.LossPeakBytes.Should().Be(4 * 768 * 10_922 + 4L * 768 * 128 + 4L * 50_304 * 128 + 4 * 768);
        fused.LossPeakBytes.Should().BeLessThan(plan.LossPeakBytes / 3);
        fused.PeakBytes.Should().BeLessThan(plan.PeakBytes);
    }

    [Fact]
    public void Optimizer_state_and_update_follow_the_models_own_parameter_groups()
    {
        foreach (var config in Tiny.Cases().Select(c => Tiny.Case((string)c[0], (AttentionKind)c[1], (PositionKind)c[2], (int)c[3])).Append(Presets.Get("llama-cpu")))
        {
            using var model = new CausalLM(config);
            var groups = ParameterGroups.Split(model);
            long n = model.parameters().Sum(p => p.numel()), hidden = groups.Hidden.Sum(h => h.Param.numel());
            long largest = model.parameters().Max(p => p.numel()), largestOther = groups.WithoutHidden().Decay.Concat(groups.NoDecay).Max(p => p.Param.numel());
            OptimizerMemory.For(config, OptimizerKind.AdamW).Should().Match<OptimizerMemory>(o => o.StateBytes == 8 * n && o.UpdateBytes == 8 * largest, config.ToJson());
            OptimizerMemory.For(config, OptimizerKind.AdEMAMix).Should().Match<OptimizerMemory>(o => o.StateBytes == 12 * n && o.UpdateBytes == 24 * largest);
            var muon = OptimizerMemory.For(config, OptimizerKind.Muon);
            muon.StateBytes.Should().Be(4 * hidden + 8 * (n - hidden), "one momentum per hidden matrix, AdamW for the rest");
            muon.UpdateBytes.Should().BeGreaterThanOrEqualTo(8 * largestOther);
        }
        // Newton-Schulz on llama3-220M's 3584 x 1024 MLP matrices: 18 of them and 25 Gram matrices, below AdamW's 2 embeddings.
        var big = OptimizerMemory.For(Presets.Get("llama3-220M"), OptimizerKind.Muon);
        big.UpdateBytes.Should().Be(8 * 50_304L * 1024);
        OptimizerMemory.For(Presets.Get("llama3-220M") with { VocabSize = 1024 }, OptimizerKind.Muon).UpdateBytes
            .Should().Be(4 * (18 * 3584L * 1024 + 25 * 1024L * 1024));
    }

    [Fact]
    public void Frozen_parameters_have_no_gradient_and_no_optimizer_state_in_the_plan()
    {
        // Against the built model, frozen as the trainer freezes it: its optimizer groups hold only what trains.
        string[] freeze = ["model.embed_tokens", "model.layers.0"];
        foreach (var config in Tiny.Cases().Select(c => Tiny.Case((string)c[0], (AttentionKind)c[1], (PositionKind)c[2], (int)c[3])).Append(Presets.Get("llama-cpu")))
        {
            using var model = LMHarness.Training.Freezing.Apply(new CausalLM(config), freeze);
            var groups = ParameterGroups.Split(model);
            var trained = groups.Decay.Concat(groups.NoDecay).ToList();
            long n = trained.Sum(p => p.Param.numel()), hidden = groups.Hidden.Sum(h => h.Param.numel());
            long all = model.parameters().Sum(p => p.numel());
            n.Should().BeLessThan(all).And.Be(model.parameters().Where(p => p.requires_grad).Sum(p => p.numel()));
            long largest = trained.Max(p => p.Param.numel());
            OptimizerMemory.For(config, OptimizerKind.AdamW, freeze).Should().Match<OptimizerMemory>(o => o.StateBytes == 8 * n && o.UpdateBytes == 8 * largest, config.ToJson());
            OptimizerMemory.For(config, OptimizerKind.AdEMAMix, freeze).StateBytes.Should().Be(12 * n);
            OptimizerMemory.For(config, OptimizerKind.Muon, freeze).StateBytes.Should().Be(4 * hidden + 8 * (n - hidden));

            var t = new TrainingConfig { MicroBatch = 2, ContextLength = 16, Freeze = freeze };
            var plan = MemoryPlan.For(config, t, 0, "none");
            (plan.Parameters, plan.TrainableParameters).Should().Be((all, n));
            (plan.WeightBytes, plan.GradientBytes, plan.OptimizerStateBytes).Should().Be((4 * all, 4 * n, 8 * n), "weights are all kept; gradients and state only for what trains");
            var bf16 = MemoryPlan.For(config, t with { Dtype = TrainingDtype.Bf16 }, 0, "none");
            (bf16.ComputeCopyBytes, bf16.ComputeGradientBytes).Should().Be((2 * all, 2 * n));
            bf16.HeadGradientBytes.Should().Be(config.TieEmbeddings ? 0 : 2L * config.VocabSize * config.DModel, "a tied head is the frozen embedding");
        }
        // Unfrozen, the plan is what it was: the same figures as with no freeze field at all.
        var llama = Presets.Get("llama3-220M");
        var plain = MemoryPlan.For(llama, new TrainingConfig(), 0, "none");
        (plain.TrainableParameters, plain.GradientBytes).Should().Be((N220, 4 * N220));
        // llama3-220M with its embedding (51.5M of 221M) frozen, fp32 AdamW: 12 B less per frozen parameter, 589 MB.
        var frozen = MemoryPlan.For(llama, new TrainingConfig { Freeze = ["model.embed_tokens"] }, 0, "none");
        (plain.GradientBytes + plain.OptimizerStateBytes - frozen.GradientBytes - frozen.OptimizerStateBytes).Should().Be(12L * 50_304 * 1024);
        frozen.ToTable().Should().Contain($"{MemoryPlan.Count(N220 - 50_304L * 1024)} trained");
        // The fused loss makes no dW for a frozen head (tied: the embedding): V x d x 4 B less at the loss's backward.
        var fusedPlain = LossMemory.For(llama, new TrainingConfig { MicroBatch = 8, ContextLength = 1024, FusedLoss = FusedLossMode.On });
        var fusedFrozen = LossMemory.For(llama, new TrainingConfig { MicroBatch = 8, ContextLength = 1024, FusedLoss = FusedLossMode.On, Freeze = ["model.embed_tokens"] });
        (fusedPlain.PeakBytes - fusedFrozen.PeakBytes).Should().Be(4L * 50_304 * 1024);
        fusedFrozen.Description.Should().Contain("no dW (the head is frozen)");
    }

    [Fact]
    public void The_proposal_fits_the_usable_budget_and_one_more_sequence_does_not()
    {
        var llama = Presets.Get("llama3-220M");
        var t = new TrainingConfig { ContextLength = 1024, Dtype = TrainingDtype.Bf16 };
        long budget = 24L << 30;
        var b = BatchPlan.Propose(llama, t, budget, 65_536);
        b.UsableBytes.Should().Be((long)(budget * 0.85));
        b.Plan.PeakBytes.Should().BeLessThanOrEqualTo(b.UsableBytes);
        b.TooLarge!.PeakBytes.Should().BeGreaterThan(b.UsableBytes, "the largest micro-batch that fits");
        (b.LargestFitting, b.MicroBatch, b.GradAccumulation, b.RecomputeActivations).Should().Be((23, 16, 4, false), "64 sequences: 23 fit, and 16 divides 64");
        b.TokensPerStep.Should().Be(65_536);
        b.LargestWithRecompute.Should().Be(64);
        b.ToText().Should().Contain("Proposal: micro_batch 16 x grad_accumulation 4 x context_length 1024 = 65,536 tokens per step")
            .And.Contain("24 would need").And.Contain("With recompute_activations up to 64 would fit");

        // A target that is not a multiple of the context rounds up; with room for every sequence, no accumulation.
        var roomy = BatchPlan.Propose(llama, t, 64L << 30, 4 * 1024 - 100);
        (roomy.MicroBatch, roomy.GradAccumulation, roomy.TokensPerStep, roomy.TooLarge).Should().Be((4, 1, 4096L, (MemoryPlan?)null));
    }

    [Fact]
    public void The_proposal_keeps_the_global_batch_exact_when_a_micro_batch_near_the_largest_divides_it()
    {
        var llama = Presets.Get("llama-cpu");
        var t = new TrainingConfig { ContextLength = 64, Dtype = TrainingDtype.Bf16 };
        long PeakAt(int micro) => MemoryPlan.For(llama, t with { MicroBatch = micro, GradAccumulation = (512 + micro - 1) / micro }).PeakBytes;
        long budget = (long)Math.Ceiling(PeakAt(23) / 0.85) + 1; // 23 sequences fit, 24 do not
        var b = BatchPlan.Propose(llama, t, budget, 512 * 64);
        b.LargestFitting.Should().Be(23);
        (b.MicroBatch, b.GradAccumulation, b.TokensPerStep).Should().Be((16, 32, 512L * 64), "16 divides the 512 sequences; 23 x 23 would take 529");
        b.ToText().Should().Contain("Of micro-batches 12 to 23, 16 overshoots 512 sequences least (0 past it; 23 would take 17).");
        // 509 sequences (a prime) have no divisor in range: the least overshoot wins.
        var prime = BatchPlan.Propose(llama, t, budget, 509 * 64);
        (prime.MicroBatch, prime.GradAccumulation).Should().Be((17, 30), "17 x 30 = 510 is one past 509, the least of 12-23");
    }

    [Fact]
    public void Recomputation_is_proposed_only_when_no_sequence_fits_without_it_and_nothing_fitting_names_the_largest_term()
    {
        // 8,192-token sequences: one sequence's activations (5 GB) decide whether it fits.
        var llama = Presets.Get("llama3-220M") with { ContextLength = 8192 };
        var t = new TrainingConfig { ContextLength = 8192, Dtype = TrainingDtype.Bf16 };
        long one = MemoryPlan.For(llama, t with { MicroBatch = 1 }).PeakBytes;
        long recomputedOne = MemoryPlan.For(llama with { RecomputeActivations = true }, t with { MicroBatch = 1 }).PeakBytes;
        recomputedOne.Should().BeLessThan(one);
        long budget = (long)((one + recomputedOne) / 2 / 0.85); // one sequence fits only when recomputed
        var b = BatchPlan.Propose(llama, t, budget, 8192);
        (b.MicroBatch, b.RecomputeActivations).Should().Be((1, true));

        FluentActions.Invoking(() => BatchPlan.Propose(llama, t, 2L << 30, 8192)).Should().Throw<ArgumentException>()
            .WithMessage("Not even one sequence of 8192 tokens fits*largest term is AdamW state*");
        // The issue's example: with the fused loss and no logits held across micro-batches, half a million tokens a step
        // fit a 24 GB card (the step used to keep every micro-batch's logits: 100 GB of them).
        var issue = BatchPlan.Propose(Presets.Get("llama3-220M"), new TrainingConfig { ContextLength = 1024 }, 24L << 30, 524_288);
        (issue.MicroBatch, issue.GradAccumulation, issue.TokensPerStep).Should().Be((8, 64, 524_288L));
    }

    [Theory]
    [InlineData("24GB", 24L << 30)]
    [InlineData("24 GiB", 24L << 30)]
    [InlineData("24", 24L << 30)]
    [InlineData("512MB", 512L << 20)]
    [InlineData("1.5TB", 3L << 39)]
    [InlineData("80gb", 80L << 30)]
    public void Memory_sizes_read_as_written(string text, long bytes) => MemorySize.Parse(text).Should().Be(bytes);

    [Fact]
    public void Memory_sizes_refuse_what_is_not_one() =>
        FluentActions.Invoking(() => MemorySize.Parse("24 apples")).Should().Throw<ArgumentException>().WithMessage("*24GB, 24GiB, 512MB*");

    [Fact]
    public void The_run_result_carries_the_plan_through_result_json_and_prints_it_beside_the_peak()
    {
        var plan = MemoryPlan.For(Presets.Get("nanogpt-cpu"), new TrainingConfig(), 300L << 20, "measured: resident at the run's start");
        var result = new RunResult("runs/x", 10, 10, 7680, 2.5, 2.6, 2.5, 2.6, null, 1, 1, 0, 100, 10, 804_096, 2 * plan.PeakMb, false) { PlannedMemory = plan.Planned() };
        result.PlannedMemory.Should().Be(new PlannedMemory(plan.PeakMb, false, 300, plan.Summary()));
        RunResult.FromJson(result.ToJson(), "result.json").PlannedMemory.Should().Be(result.PlannedMemory);
        result.ToJson().Should().Contain("\"planned_memory\"").And.Contain("\"peak_mb\"");
        result.ToString().Should().Contain($"peak RSS {2 * plan.PeakMb:F0} MB, planned {plan.PeakMb:F0} MB (measured 2.00x)")
            .And.Contain("memory planned ").And.Contain("runtime 300 + warm-up 80 + weights 3 + gradients 3 + AdamW state 6");
        RunResult.FromJson(result.ToJson().Replace("\"planned_memory\"", "\"old_field\""), "result.json").PlannedMemory.Should().BeNull("result.json written before the plan reads back");
        // On a GPU the plan is of the device's memory, and is compared with the device's peak.
        (result with { PeakGpuMb = 3 * plan.PeakMb, PlannedMemory = plan.Planned() with { Gpu = true } }).ToString().Should().Contain("(measured 3.00x)");
    }
}
