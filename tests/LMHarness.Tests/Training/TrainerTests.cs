using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using LMHarness.Runs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Tests.Training;

public class TrainerTests
{
    static RunResult Train(ModelConfig m, TrainingConfig t, string tokens, string runDir, Action<Trainer>? setup = null)
    {
        using var data = TokenFileBatches.Open(tokens, t);
        var trainer = new Trainer(m, t, data, runDir, c => new CausalLM(c));
        setup?.Invoke(trainer);
        return trainer.Train();
    }

    [Fact]
    public void Metrics_csv_has_the_contract_columns_and_one_row_per_log_or_eval_step()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { LogInterval = 3, GradAccumulation = 1 };
        var s = Train(TrainingFixtures.TinyModel, t, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));

        File.ReadLines(dir.File("run/metrics.csv")).First().Should().Be("step,tokens,train_loss,val_loss,train_eval_loss,val_bpb,lr,grad_norm,tokens_per_s,mfu,elapsed_s,train_s,eval_s,rss_mb,gpu_mb");
        var rows = MetricsRow.Read(dir.File("run/metrics.csv"));
        rows.Select(r => r.Step).Should().Equal(0, 3, 4, 6, 8, 9, 12);              // step 0, log every 3, eval every 4
        rows.Where(r => r.ValLoss is not null).Select(r => r.Step).Should().Equal(0, 4, 8, 12);
        rows.Where(r => r.TrainEvalLoss is not null).Select(r => r.Step).Should().Equal(0, 4, 8, 12);
        rows.Select(r => r.Tokens).Should().Equal(rows.Select(r => r.Step * 4 * 8));
        rows.Skip(1).Should().OnlyContain(r => r.RssMb > 0 && r.TokensPerS > 0 && r.Mfu > 0 && double.IsFinite(r.TrainLoss));
        rows[0].TrainLoss.Should().Be(rows[0].TrainEvalLoss!.Value, "before the first update the train loss is the train-split estimate");
        rows[0].ValLoss!.Value.Should().BeApproximately(Math.Log(TrainingFixtures.TinyModel.VocabSize), 0.15, "an untrained model is about uniform");
        rows[0].GradNorm.Should().Be(0);
        rows[^1].Lr.Should().BeApproximately(new LMHarness.Training.Schedules.LearningRateSchedule(ScheduleKind.Cosine, 3e-3, 3e-4, 2, 12, 0.2).At(11), 1e-15);

        File.ReadLines(dir.File("run/gradflow.csv")).First().Should().Be("step,param,mean_abs_grad,max_abs_grad");
        var flow = GradFlowRow.Read(dir.File("run/gradflow.csv"));
        var nParams = new CausalLM(TrainingFixtures.TinyModel).parameters().Count();
        flow.Should().HaveCount(2 * nParams);                                      // steps 5 and 10
        flow.Should().OnlyContain(r => r.MaxAbsGrad >= r.MeanAbsGrad && r.MeanAbsGrad >= 0);

        var config = JsonNode.Parse(File.ReadAllText(dir.File("run/config.json")))!;
        config["model"]!["d_model"]!.GetValue<int>().Should().Be(16);
        config["training"]!["log_interval"]!.GetValue<int>().Should().Be(3);
        config["data"]!["token_file"]!.GetValue<string>().Should().EndWith("tokens.bin");
        config["environment"]!["device"]!.GetValue<string>().Should().Be("cpu");

        s.Steps.Should().Be(12);
        // The memory plan, its runtime measured at the run's start, goes to result.json and beside the peak.
        var planned = s.PlannedMemory!;
        planned.RuntimeMb.Should().BeGreaterThan(0).And.BeLessThanOrEqualTo(s.PeakRssMb, "resident at the start, which the peak starts from");
        planned.Gpu.Should().BeFalse();
        planned.PeakMb.Should().BeApproximately(LMHarness.Summary.MemoryPlan.For(TrainingFixtures.TinyModel, t, (long)Math.Round(planned.RuntimeMb * (1 << 20)), "").PeakMb, 1e-6);
        s.ToString().Should().Contain($"peak RSS {s.PeakRssMb:F0} MB, planned {planned.PeakMb:F0} MB").And.Contain("memory planned ");
        new RunFolder(dir.File("run")).ReadResult()!.PlannedMemory.Should().Be(planned);
        s.FinalValLoss.Should().Be(rows[^1].ValLoss);
        s.BestValLoss.Should().Be(rows.Min(r => r.ValLoss));
        s.Interrupted.Should().BeFalse();
        new RunFolder(dir.File("run")).Checkpoints.Select(Path.GetFileName).Should().Equal("step_0000012.ckpt");
    }

    [Fact]
    public void Val_bpb_is_the_validation_loss_per_utf8_byte_of_the_tokens()
    {
        // Same ids under two char tables: 32 ASCII chars (1 byte each) and 32 Latin-1 letters U+00C0..U+00DF (2 bytes
        // each in UTF-8). Identical ids give identical losses; bits per byte are nats / ln 2 over 1 and 2 bytes a token.
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 4, GradAccumulation = 1 };
        var latin = new string(Enumerable.Range(0xC0, 32).Select(c => (char)c).ToArray());
        Train(TrainingFixtures.TinyModel, t, TrainingFixtures.TokenFile(dir.Path), dir.File("ascii"));
        Train(TrainingFixtures.TinyModel, t, TrainingFixtures.TokenFile(dir.Path, latin, "latin.bin"), dir.File("latin"));
        var ascii = MetricsRow.Read(dir.File("ascii/metrics.csv"));
        var wide = MetricsRow.Read(dir.File("latin/metrics.csv"));

        ascii.Where(r => r.ValLoss is null).Should().OnlyContain(r => r.ValBpb == null, "bpb comes with an evaluation");
        var evaluated = ascii.Where(r => r.ValLoss is not null).ToList();
        evaluated.Select(r => r.Step).Should().Equal(0, 4);
        foreach (var r in evaluated)
            r.ValBpb!.Value.Should().BeApproximately(r.ValLoss!.Value / Math.Log(2), 1e-6);
        foreach (var (a, w) in evaluated.Zip(wide.Where(r => r.ValLoss is not null)))
        {
            w.ValLoss.Should().Be(a.ValLoss, "the same ids train the same way whatever characters they stand for");
            w.ValBpb!.Value.Should().BeApproximately(a.ValLoss!.Value / (2 * Math.Log(2)), 1e-6);
        }
    }

    [Fact]
    public void Train_estimate_windows_are_the_same_at_every_evaluation_come_from_the_train_split_and_leave_training_batches_alone()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining;
        using var data = TokenFileBatches.Open(TrainingFixtures.TokenFile(dir.Path), t);
        using var reference = TokenFileBatches.Open(TrainingFixtures.TokenFile(dir.Path), t);
        long[] Ids(IEnumerable<(Tensor X, Tensor Y)> batches) => batches.SelectMany(b => b.X.data<long>().ToArray().Concat(b.Y.data<long>().ToArray())).ToArray();

        var first = Ids(data.TrainSample(3));
        first.Should().HaveCount(2 * 3 * t.MicroBatch * t.ContextLength);
        Ids(data.TrainSample(3)).Should().Equal(first, "the estimate must compare across evaluations");
        Ids([data.NextTrain()]).Should().Equal(Ids([reference.NextTrain()]), "estimating draws nothing from the training stream");
        Ids(data.TrainSample(3)).Should().Equal(first);
        var train = data.File.Read(0, (int)data.File.TrainTokens).Select(v => (long)v).ToArray();
        int T = t.ContextLength;
        foreach (var (x, y) in data.TrainSample(3))
            for (long r = 0; r < x.shape[0]; r++)
            {
                var (xr, yr) = (x[r].data<long>().ToArray(), y[r].data<long>().ToArray());
                Enumerable.Range(0, train.Length - T)
                    .Any(i => new ArraySegment<long>(train, i, T).SequenceEqual(xr) && new ArraySegment<long>(train, i + 1, T).SequenceEqual(yr))
                    .Should().BeTrue("inputs and their next-token targets lie inside the train split");
            }
    }

    [Fact]
    public void Training_lowers_the_validation_loss()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 60, EvalInterval = 10, LogInterval = 10, GradFlowInterval = 0 };
        Train(TrainingFixtures.TinyModel, t, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));
        var val = MetricsRow.Read(dir.File("run/metrics.csv")).Where(r => r.ValLoss is not null).Select(r => r.ValLoss!.Value).ToList();
        val[^1].Should().BeLessThan(val[0] - 0.3, "the counting sequence is learnable");
    }

    [Fact]
    public void Stopped_and_resumed_run_reproduces_the_uninterrupted_losses_bitwise()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var m = TrainingFixtures.TinyModel; // dropout 0.1: the torch RNG state must be restored too
        foreach (var optimizer in new[] { OptimizerKind.AdamW, OptimizerKind.Muon, OptimizerKind.AdEMAMix })
        {
            var t = TrainingFixtures.TinyTraining with { Optimizer = optimizer };
            var whole = dir.File($"whole-{optimizer}");
            var split = dir.File($"split-{optimizer}");
            Train(m, t, tokens, whole);

            var first = Train(m, t, tokens, split, tr => tr.StepCompleted += row => { if (row.Step == 5) tr.RequestStop(); });
            first.Interrupted.Should().BeTrue();
            first.Steps.Should().Be(5);
            new RunFolder(split).LatestCheckpoint.Should().EndWith("step_0000005.ckpt");
            var resumed = Train(m, t, tokens, split);
            resumed.Steps.Should().Be(12);

            var a = MetricsRow.Read(Path.Combine(whole, "metrics.csv"));
            var b = MetricsRow.Read(Path.Combine(split, "metrics.csv"));
            b.Select(r => r.Step).Should().Equal(a.Select(r => r.Step));
            b.Select(r => r.TrainLoss).Should().Equal(a.Select(r => r.TrainLoss), $"{optimizer} train losses bitwise");
            b.Select(r => r.ValLoss).Should().Equal(a.Select(r => r.ValLoss));
            b.Select(r => r.GradNorm).Should().Equal(a.Select(r => r.GradNorm));
            b.Select(r => r.Tokens).Should().Equal(a.Select(r => r.Tokens));

            using var ma = new CausalLM(m);
            using var mb = new CausalLM(m);
            Checkpoint.LoadModel(Path.Combine(whole, "checkpoints", RunFolder.CheckpointFileName(12)), ma);
            Checkpoint.LoadModel(Path.Combine(split, "checkpoints", RunFolder.CheckpointFileName(12)), mb);
            foreach (var ((n, p), (_, q)) in ma.named_parameters().Zip(mb.named_parameters()))
                p.eq(q).all().item<bool>().Should().BeTrue($"{n} bitwise equal after resume");
        }
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Muon)]
    public void Speedrun_blocks_and_per_group_rates_resume_bitwise(OptimizerKind optimizer)
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var m = TrainingFixtures.TinyModel with
        {
            NLayer = 3, QkNorm = true, FeedForwardKinds = [FeedForwardKind.Relu2], LogitSoftcap = 5, ValueEmbeddings = true,
            SkipConnections = true, ZeroInitOutputs = true, TieEmbeddings = false,
        };
        var t = TrainingFixtures.TinyTraining with
        {
            Optimizer = optimizer, EmbeddingLearningRate = 0.02, HeadLearningRate = 1e-3, ScalarLearningRate = 0.01,
            MatrixLearningRate = optimizer == OptimizerKind.AdamW ? 5e-3 : 0, Schedule = ScheduleKind.WarmupStableDecay,
        };
        Train(m, t, tokens, dir.File("whole"));
        var first = Train(m, t, tokens, dir.File("split"), tr => tr.StepCompleted += row => { if (row.Step == 5) tr.RequestStop(); });
        first.Steps.Should().Be(5);
        Train(m, t, tokens, dir.File("split")).Steps.Should().Be(12);

        var a = MetricsRow.Read(dir.File("whole/metrics.csv"));
        var b = MetricsRow.Read(dir.File("split/metrics.csv"));
        b.Select(r => r.TrainLoss).Should().Equal(a.Select(r => r.TrainLoss), "train losses bitwise");
        b.Select(r => r.ValLoss).Should().Equal(a.Select(r => r.ValLoss));
        a[^1].ValLoss!.Value.Should().BeLessThan(a[0].ValLoss!.Value - 0.1, "the blocks train");
        using var ma = new CausalLM(m);
        using var mb = new CausalLM(m);
        Checkpoint.LoadModel(new RunFolder(dir.File("whole")).CheckpointPath(12), ma);
        Checkpoint.LoadModel(new RunFolder(dir.File("split")).CheckpointPath(12), mb);
        foreach (var ((n, p), (_, q)) in ma.named_parameters().Zip(mb.named_parameters()))
            p.eq(q).all().item<bool>().Should().BeTrue($"{n} bitwise equal after resume");
    }

    [Fact]
    public void A_head_learning_rate_for_a_tied_head_is_refused()
    {
        using var dir = new TempDir();
        var act = () => new Trainer(TrainingFixtures.TinyModel, TrainingFixtures.TinyTraining with { HeadLearningRate = 1e-3 }, null!, dir.Path, c => new CausalLM(c));
        act.Should().Throw<ArgumentException>().WithMessage("*head_learning_rate (0.001) applies to an untied lm_head*tie_embeddings false or head_learning_rate 0*");
    }

    /// <summary>Hands out fixed batches, so two trainers can see the same tokens split differently.</summary>
    sealed class FixedBatches(Tensor x, Tensor y, int parts) : IBatchSource
    {
        int _next;
        public (Tensor X, Tensor Y) NextTrain()
        {
            var rows = x.shape[0] / parts;
            var i = _next++ % parts;
            return (x.narrow(0, i * rows, rows), y.narrow(0, i * rows, rows));
        }
        public IEnumerable<(Tensor X, Tensor Y)> Validation(int batches) { yield return (x, y); }
        public IEnumerable<(Tensor X, Tensor Y)> TrainSample(int batches) { yield return (x, y); }
        public JsonNode SaveState() => JsonValue.Create(_next);
        public void LoadState(JsonNode state) => _next = state.GetValue<int>();
        public JsonObject Describe() => new() { ["kind"] = "fixed" };
        public JsonNode? Tokenizer => null;
    }

    [Fact]
    public void Accumulating_k_micro_batches_equals_one_batch_k_times_larger()
    {
        using var dir = new TempDir();
        var m = TrainingFixtures.TinyModel with { Dropout = 0 };
        torch.manual_seed(1);
        var x = torch.randint(0, 32, [12, 8], dtype: ScalarType.Int64);
        var y = torch.randint(0, 32, [12, 8], dtype: ScalarType.Int64);
        var baseCfg = TrainingFixtures.TinyTraining with { MaxSteps = 3, WarmupSteps = 0, EvalInterval = 100, GradFlowInterval = 0 };

        RunResult Run(string name, int micro, int accum) =>
            new Trainer(m, baseCfg with { MicroBatch = micro, GradAccumulation = accum }, new FixedBatches(x, y, accum), dir.File(name), c => new CausalLM(c)).Train();
        Run("big", 12, 1);
        Run("accumulated", 4, 3);

        var big = MetricsRow.Read(dir.File("big/metrics.csv"));
        var acc = MetricsRow.Read(dir.File("accumulated/metrics.csv"));
        acc.Select(r => r.TrainLoss).Should().Equal(big.Select(r => r.TrainLoss), (p, q) => Math.Abs(p - q) < 1e-5);
        acc.Select(r => r.GradNorm).Should().Equal(big.Select(r => r.GradNorm), (p, q) => Math.Abs(p - q) < 1e-5 * Math.Max(1, q));
        acc.Select(r => r.Tokens).Should().Equal(big.Select(r => r.Tokens));
        using var ma = new CausalLM(m);
        using var mb = new CausalLM(m);
        Checkpoint.LoadModel(new RunFolder(dir.File("big")).LatestCheckpoint!, ma);
        Checkpoint.LoadModel(new RunFolder(dir.File("accumulated")).LatestCheckpoint!, mb);
        foreach (var ((n, p), (_, q)) in ma.named_parameters().Zip(mb.named_parameters()))
            (p - q).abs().max().item<float>().Should().BeLessThan(1e-5f, n);
    }

    [Fact]
    public void Gradient_clipping_scales_to_the_max_norm_and_returns_the_norm_before()
    {
        var a = new Parameter(torch.zeros(2)); a.grad = torch.tensor(new[] { 3f, 0f });
        var b = new Parameter(torch.zeros(1)); b.grad = torch.tensor(new[] { 4f });
        GradientClipping.ClipByGlobalNorm([a, b], 10).item<float>().Should().BeApproximately(5, 1e-6f);
        a.grad.data<float>().ToArray().Should().Equal(3f, 0f);                      // under the limit: untouched
        GradientClipping.ClipByGlobalNorm([a, b], 1).item<float>().Should().BeApproximately(5, 1e-6f);
        a.grad.data<float>()[0].Should().BeApproximately(0.6f, 1e-6f);
        b.grad.data<float>()[0].Should().BeApproximately(0.8f, 1e-6f);
        GradientClipping.ClipByGlobalNorm([a, b], 0).item<float>().Should().BeApproximately(1, 1e-5f); // 0 = off, still reports
    }

    [Fact]
    public void Checkpoint_for_another_model_shape_is_refused_naming_the_tensor()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 2, WarmupSteps = 0, GradFlowInterval = 0 };
        Train(TrainingFixtures.TinyModel, t, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));
        var ckpt = new RunFolder(dir.File("run")).LatestCheckpoint!;

        using var wider = new CausalLM(TrainingFixtures.TinyModel with { DModel = 32, NHead = 2, NKvHead = 2 });
        var before = wider.named_parameters().First().Item2.clone();
        var act = () => Checkpoint.LoadModel(ckpt, wider);
        act.Should().Throw<InvalidDataException>()
            .WithMessage("*tensor 'model.embed_tokens.weight' has shape [32, 16] in the checkpoint but [32, 32] in the model*");
        wider.named_parameters().First().Item2.eq(before).all().item<bool>().Should().BeTrue("nothing is loaded on refusal");

        using var deeper = new CausalLM(TrainingFixtures.TinyModel with { NLayer = 2 });
        var act2 = () => Checkpoint.LoadModel(ckpt, deeper);
        act2.Should().Throw<InvalidDataException>().WithMessage("*tensor 'model.layers.1.*' is missing from the checkpoint*");

        // The trainer refuses to continue a run folder with a different config instead of mixing them.
        var act3 = () => Train(TrainingFixtures.TinyModel with { DModel = 32 }, t with { MaxSteps = 3 }, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));
        act3.Should().Throw<InvalidOperationException>().WithMessage("*different config*model.d_model: 16 -> 32*");

        File.WriteAllBytes(dir.File("bad.ckpt"), File.ReadAllBytes(ckpt)[..1000]);
        var act4 = () => Checkpoint.LoadModel(dir.File("bad.ckpt"), new CausalLM(TrainingFixtures.TinyModel));
        act4.Should().Throw<InvalidDataException>().WithMessage($"Checkpoint {dir.File("bad.ckpt")} is damaged: *truncated*");
    }

    /// <summary>A model whose output turns NaN from its n-th forward call on.</summary>
    sealed class PoisonAfter : nn.Module<Tensor, Tensor>
    {
        readonly CausalLM inner;
        readonly int _after;
        int _calls;
        public PoisonAfter(ModelConfig c, int after) : base("poison") { inner = new CausalLM(c); _after = after; RegisterComponents(); }
        // Counts training forwards only: evaluations (step 0 included) run in eval mode.
        public override Tensor forward(Tensor x) => training && ++_calls >= _after ? inner.forward(x) * float.NaN : inner.forward(x);
    }

    [Fact]
    public void NaN_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { GradAccumulation = 1, CheckpointInterval = 2, EvalInterval = 100, GradFlowInterval = 0 };
        using var data = TokenFileBatches.Open(TrainingFixtures.TokenFile(dir.Path), t);
        var trainer = new Trainer(TrainingFixtures.TinyModel, t, data, dir.File("run"), c => new PoisonAfter(c, 6));
        var act = () => trainer.Train();
        var e = act.Should().Throw<TrainingDivergedException>().Which;
        e.Step.Should().Be(6);
        e.Message.Should().Contain("training loss is NaN at step 6").And.Contain("step_0000004.ckpt").And.Contain("Lower learning_rate");
        new RunFolder(dir.File("run")).Checkpoints.Select(Path.GetFileName).Should().Equal("step_0000002.ckpt", "step_0000004.ckpt");
        Checkpoint.ReadState(new RunFolder(dir.File("run")).LatestCheckpoint!).Step.Should().Be(4);
        MetricsRow.Read(dir.File("run/metrics.csv")).Select(r => r.Step).Should().Equal(0, 1, 2, 3, 4, 5);
        Directory.GetFiles(dir.File("run/checkpoints"), "*.tmp").Should().BeEmpty();
    }

    [Fact]
    public void A_NaN_between_log_steps_is_named_at_the_next_read_and_never_checkpointed()
    {
        // Losses stay on the device between log steps; the read at step 4 (a checkpoint step) finds step 3's NaN
        // and stops before writing step 4's checkpoint.
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { GradAccumulation = 1, LogInterval = 5, CheckpointInterval = 2, EvalInterval = 100, GradFlowInterval = 0 };
        using var data = TokenFileBatches.Open(TrainingFixtures.TokenFile(dir.Path), t);
        var trainer = new Trainer(TrainingFixtures.TinyModel, t, data, dir.File("run"), c => new PoisonAfter(c, 3));
        var e = FluentActions.Invoking(trainer.Train).Should().Throw<TrainingDivergedException>().Which;
        e.Step.Should().Be(3);
        e.Message.Should().Contain("training loss is NaN at step 3").And.Contain("step_0000002.ckpt");
        new RunFolder(dir.File("run")).Checkpoints.Select(Path.GetFileName).Should().Equal("step_0000002.ckpt");
        MetricsRow.Read(dir.File("run/metrics.csv")).Select(r => r.Step).Should().Equal(0, 2);
    }

    [Fact]
    public void Resume_reads_the_run_folder_and_finishes_the_run()
    {
        using var dir = new TempDir();
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 6, GradFlowInterval = 0, KeepCheckpoints = 1 };
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        Train(TrainingFixtures.TinyModel, t, tokens, dir.File("run"), tr => tr.StepCompleted += r => { if (r.Step == 3) tr.RequestStop(); });
        var s = Trainer.Resume(dir.File("run"));
        s.Steps.Should().Be(6);
        s.Interrupted.Should().BeFalse();
        new RunFolder(dir.File("run")).Checkpoints.Select(Path.GetFileName).Should().Equal("step_0000006.ckpt"); // keep last 1
        var act = () => Trainer.Resume(dir.File("nothing-here"));
        act.Should().Throw<FileNotFoundException>().WithMessage("*no config.json*");
    }

    [Fact]
    public void Bf16_run_keeps_fp32_master_weights_and_tracks_the_fp32_losses()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var m = TrainingFixtures.TinyModel with { Dropout = 0 };
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 20, EvalInterval = 20, GradFlowInterval = 0, TensorBoard = true };
        Train(m, t, tokens, dir.File("fp32"));
        var s = Train(m, t with { Dtype = TrainingDtype.Bf16 }, tokens, dir.File("bf16"));
        var a = MetricsRow.Read(dir.File("fp32/metrics.csv"));
        var b = MetricsRow.Read(dir.File("bf16/metrics.csv"));
        b.Select(r => r.TrainLoss).Should().Equal(a.Select(r => r.TrainLoss), (p, q) => Math.Abs(p - q) < 0.05, "bf16 rounding moves the loss a little, not a lot");
        b.Select(r => r.TrainLoss).Should().NotEqual(a.Select(r => r.TrainLoss), "the bf16 path really computes in bf16");
        s.FinalValLoss.Should().BeLessThan(a[0].TrainLoss);
        using var model = new CausalLM(m);
        Checkpoint.LoadModel(new RunFolder(dir.File("bf16")).LatestCheckpoint!, model);
        model.parameters().Should().OnlyContain(p => p.dtype == ScalarType.Float32);
        // TensorBoard event files were written next to the CSVs.
        Directory.GetFiles(dir.File("bf16/tb"), "events.out.tfevents.*", SearchOption.AllDirectories).Should().NotBeEmpty();
    }
}
