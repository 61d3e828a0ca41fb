using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Replay;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Metrics;
using LMHarness.Training.Optimizers;
using LMHarness.Training.Schedules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The training loop. Each optimizer step: for each of grad_accumulation micro-batches, forward, mean cross-entropy
/// of next-token prediction (computed in fp32), backward of loss / grad_accumulation (so the summed gradient is the
/// gradient of the mean over all micro-batches); then global-norm clipping, one optimizer update at lr(step), and
/// metrics, evaluation and checkpoints at their intervals. Everything a step allocates lives in one dispose scope.
/// A run folder holding a checkpoint is resumed from its newest one, bit-exactly on CPU.
/// bf16: a bf16 copy of the model does forward and backward; its gradients are added into fp32 gradients of the
/// fp32 master model, which the optimizer (with fp32 state) updates and which is copied back into the bf16 model
/// after every step (mixed precision, Micikevicius et al. 2018; bf16 needs no loss scaling, its range is fp32's).
/// Evaluation (before the first step of a fresh run, every eval_interval steps and at the end) reports the
/// validation loss and a train-split estimate, both over eval_batches batches, as nanoGPT's estimate_loss does.
/// With replay nanogpt the initial weights and every batch come from torch's global generator exactly as in
/// nanoGPT's train.py (<see cref="NanoGptInit"/>, <see cref="NanoGptBatches"/>), so nanoGPT's logged losses come out.
/// </summary>
public sealed class Trainer
{
    readonly ModelConfig _modelConfig;
    readonly TrainingConfig _config;
    readonly IBatchSource _data;
    readonly string _runDir;
    readonly Func<ModelConfig, nn.Module<Tensor, Tensor>> _build;
    volatile bool _stop;

    /// <summary>Raised after every optimizer step with that step's metrics (val_loss set on evaluation steps).</summary>
    public event Action<MetricsRow>? StepCompleted;

    /// <param name="model">The model to build (validated).</param>
    /// <param name="training">How to train it (validated; its context must fit the model's).</param>
    /// <param name="data">Training and validation batches.</param>
    /// <param name="runDir">The run folder; created when missing, resumed when it holds a checkpoint.</param>
    /// <param name="build">Builds the model from its config (for the public API: <c>c => new CausalLM(c)</c>); forward(idx) must return logits (B, T, V).</param>
    public Trainer(ModelConfig model, TrainingConfig training, IBatchSource data, string runDir, Func<ModelConfig, nn.Module<Tensor, Tensor>> build)
    {
        _modelConfig = model.Validated();
        _config = training.Validated();
        if (_config.ContextLength > _modelConfig.ContextLength)
            throw new ArgumentException($"training context_length ({_config.ContextLength}) exceeds the model's context_length ({_modelConfig.ContextLength}): lower the training one or raise the model's.");
        if (_config.Replay == ReplayKind.NanoGpt) NanoGptInit.Require(_modelConfig);
        _data = data;
        _runDir = runDir;
        _build = build;
    }

    /// <summary>
    /// Trains a <see cref="CausalLM"/> built from <paramref name="model"/> on <paramref name="tokenFile"/> into
    /// <paramref name="runDir"/> (config.json, metrics.csv, gradflow.csv, checkpoints/, summary.json). A folder that
    /// already holds checkpoints of the same configs is continued from its newest one.
    /// </summary>
    public static RunSummary Run(ModelConfig model, TrainingConfig training, string tokenFile, string runDir)
    {
        var config = training.Validated();
        using var file = TokenFile.Open(tokenFile);
        if (file.Tokenizer.VocabSize > model.VocabSize)
            throw new ArgumentException($"The token file {tokenFile} uses {file.Tokenizer.Describe()} ({file.Tokenizer.VocabSize} ids) but the model's vocab_size is {model.VocabSize}: set vocab_size >= {file.Tokenizer.VocabSize}.");
        IBatchSource data = config.Replay == ReplayKind.NanoGpt
            ? new NanoGptBatches(file, config.MicroBatch, config.ContextLength)
            : new TokenFileBatches(file, config.MicroBatch, config.ContextLength, config.Seed);
        return new Trainer(model, config, data, runDir, c => new CausalLM(c)).Train();
    }

    /// <summary>Continues the run in <paramref name="runDir"/> from its newest checkpoint, with the configs and token file its config.json records.</summary>
    public static RunSummary Resume(string runDir)
    {
        var path = Path.Combine(runDir, "config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"{runDir} has no config.json, so it is not a run folder: pass the folder Trainer.Run wrote.", path);
        var doc = JsonNode.Parse(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} is empty.");
        if (Checkpoint.Latest(Path.Combine(runDir, "checkpoints")) is null)
            throw new InvalidOperationException($"{runDir} has no checkpoint to resume from: start it again with Trainer.Run.");
        var model = ModelConfig.FromJson(doc["model"]!.ToJsonString());
        var training = TrainingConfig.FromJson(doc["training"]!.ToJsonString());
        var tokenFile = doc["data"]?["token_file"]?.GetValue<string>()
            ?? throw new InvalidDataException($"{path} does not record data.token_file: it was written by a custom data source; resume with new Trainer(...).Train().");
        return Run(model, training, tokenFile, runDir);
    }

    public string CheckpointDir => Path.Combine(_runDir, "checkpoints");

    /// <summary>Asks the loop to finish the current step, write a checkpoint and return (what Ctrl-C does).</summary>
    public void RequestStop() => _stop = true;

    /// <summary>Trains to the end (or until stopped), resuming from the run folder's newest checkpoint when there is one.</summary>
    public RunSummary Train()
    {
        Directory.CreateDirectory(_runDir);
        if (_config.Threads > 0) torch.set_num_threads(_config.Threads);
        var device = ResolveDevice(_config.Device);

        torch.manual_seed(_config.Seed);
        var master = _build(_modelConfig);
        if (_config.Replay == ReplayKind.NanoGpt)
            NanoGptInit.Apply(master as CausalLM ?? throw new ArgumentException("replay nanogpt initialises a CausalLM: build one (c => new CausalLM(c))."), _config.Seed);
        master.to(device);
        master.train();
        var computeDtype = _config.Dtype == TrainingDtype.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var compute = master;
        if (computeDtype != ScalarType.Float32)
        {
            // The copy's own initial draws are overwritten by the master's weights; keep them off the random stream.
            using var rng = torch.random.get_rng_state();
            compute = _build(_modelConfig);
            compute.to(device).to(computeDtype);
            compute.train();
            torch.random.set_rng_state(rng);
        }
        var masterParams = master.named_parameters().ToList();
        var computeParams = compute == master ? masterParams : compute.named_parameters().ToList();
        using var optimizer = OptimizerFactory.Create(master, _config);

        long step = 0, tokens = 0;
        double priorElapsed = 0;
        double? best = null;
        var latest = Checkpoint.Latest(CheckpointDir);
        if (latest is not null)
        {
            var saved = Checkpoint.ReadState(latest);
            EnsureSameRun(latest, saved);
            saved = Checkpoint.Load(latest, master, optimizer);
            if (saved.Sampler is not null) _data.LoadState(saved.Sampler);
            (step, tokens, priorElapsed, best) = (saved.Step, saved.TokensSeen, saved.ElapsedSeconds, saved.BestValLoss);
        }
        WriteRunConfig(device);
        if (compute != master) CopyWeights(masterParams, computeParams);

        var total = _config.TotalSteps;
        var schedule = LearningRateSchedule.For(_config);
        var parameters = masterParams.Sum(p => p.Item2.numel());
        var flopsPerToken = Throughput.FlopsPerToken(parameters, _modelConfig.NLayer, _config.ContextLength, _modelConfig.DModel);
        var peak = _config.PeakFlops > 0 ? _config.PeakFlops : Throughput.MeasurePeakFlops(device, computeDtype);

        using var metrics = new MetricsCsv(Path.Combine(_runDir, "metrics.csv"), latest is null ? -1 : step);
        using var gradFlow = new GradFlowCsv(Path.Combine(_runDir, "gradflow.csv"), latest is null ? -1 : step);
        var tb = _config.TensorBoard ? torch.utils.tensorboard.SummaryWriter(Path.Combine(_runDir, "tb")) : null;
        using var progress = ProgressReporter.Create(total, step);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        var startStep = step;
        var clock = Stopwatch.StartNew();
        double lastLogTime = 0, trainLoss = double.NaN, peakRss = Throughput.RssMb();
        long lastLogTokens = tokens;
        double? lastVal = null, lastTrainEval = null;
        var interrupted = false;

        if (latest is null)
        {
            // Step 0: the untrained model (about ln(vocab) when the initialisation is sound), as nanoGPT reports it.
            var (train0, val0) = Evaluate(master, device);
            var row0 = new MetricsRow(0, 0, train0, val0, train0, schedule.At(0), 0, 0, 0, clock.Elapsed.TotalSeconds, Throughput.RssMb());
            metrics.Write(row0);
            if (tb is not null) WriteTensorBoard(tb, row0);
            progress.Report(row0, total, TimeSpan.Zero);
            lastLogTime = clock.Elapsed.TotalSeconds; // the first row's tokens/s counts training time only
        }

        while (step < total)
        {
            using (var scope = torch.NewDisposeScope())
            {
                var lr = schedule.At(step);
                optimizer.ZeroGrad();
                if (compute != master) compute.zero_grad();
                double lossSum = 0;
                for (var micro = 0; micro < _config.GradAccumulation; micro++)
                {
                    var (x, y) = _data.NextTrain();
                    var loss = CrossEntropy(compute, x.to(device), y.to(device));
                    var lossValue = loss.item<float>();
                    if (!float.IsFinite(lossValue))
                        throw Diverged(step + 1, $"the training loss is {lossValue} at step {step + 1} (micro-batch {micro + 1})");
                    lossSum += lossValue;
                    (loss / _config.GradAccumulation).backward();
                }
                if (compute != master) AccumulateGradients(computeParams, masterParams);
                trainLoss = lossSum / _config.GradAccumulation;

                var gradNorm = GradientClipping.ClipByGlobalNorm(masterParams.Select(p => p.Item2), _config.GradClip);
                if (!double.IsFinite(gradNorm))
                    throw Diverged(step + 1, $"the gradient norm is {gradNorm} at step {step + 1} (loss {trainLoss:F4})");
                if (_config.GradFlowInterval > 0 && (step + 1) % _config.GradFlowInterval == 0)
                    gradFlow.Write(step + 1, masterParams.Select(p => (p.Item1, (Tensor)p.Item2)));

                optimizer.Step(schedule.Factor(step));
                if (compute != master) CopyWeights(masterParams, computeParams);
                step++;
                tokens += _config.TokensPerStep;

                double? val = null, trainEval = null;
                if (step % _config.EvalInterval == 0 || step == total)
                {
                    var (t, v) = Evaluate(master, device);
                    (val, trainEval, lastVal, lastTrainEval) = (v, t, v, t);
                    if (best is null || v < best) best = v;
                }
                var now = clock.Elapsed.TotalSeconds;
                var rss = Throughput.RssMb();
                peakRss = Math.Max(peakRss, rss);
                var tokPerS = (tokens - lastLogTokens) / Math.Max(now - lastLogTime, 1e-9);
                var row = new MetricsRow(step, tokens, trainLoss, val, trainEval, lr, gradNorm, tokPerS, tokPerS * flopsPerToken / peak, priorElapsed + now, rss);
                if (step % _config.LogInterval == 0 || val is not null || step == total || _stop)
                {
                    metrics.Write(row);
                    if (tb is not null) WriteTensorBoard(tb, row);
                    var eta = TimeSpan.FromSeconds((total - step) * now / Math.Max(step - startStep, 1));
                    progress.Report(row, total, eta);
                    (lastLogTime, lastLogTokens) = (now, tokens);
                }
                StepCompleted?.Invoke(row);
            }

            var checkpointDue = (_config.CheckpointInterval > 0 && step % _config.CheckpointInterval == 0) || step == total || _stop;
            if (checkpointDue)
                Checkpoint.Save(CheckpointDir, new CheckpointState(step, tokens, priorElapsed + clock.Elapsed.TotalSeconds, best,
                    _modelConfig, _config, _data.Tokenizer, _data.SaveState()), master, optimizer, _config.KeepCheckpoints);
            if (_stop && step < total) { interrupted = true; break; }
        }

        var wall = clock.Elapsed.TotalSeconds;
        var stepsRun = Math.Max(step - startStep, 1);
        var summary = new RunSummary(_runDir, step, tokens, trainLoss, lastVal, lastTrainEval, best, priorElapsed + wall,
            (step - startStep) * (double)_config.TokensPerStep / Math.Max(wall, 1e-9), wall * 1000 / stepsRun, parameters, peakRss, interrupted);
        AtomicFile.WriteAllText(Path.Combine(_runDir, "summary.json"), summary.ToJson());
        if (compute != master) compute.Dispose();
        master.Dispose();
        return summary;
    }

    void OnSignal(PosixSignalContext ctx)
    {
        // First Ctrl-C: finish the step, checkpoint, return. A second one while that happens kills the process as usual.
        if (_stop) return;
        ctx.Cancel = true;
        Console.Error.WriteLine("Interrupted: finishing the current step and writing a checkpoint (press Ctrl-C again to abort without one).");
        RequestStop();
    }

    TrainingDivergedException Diverged(long step, string what)
    {
        var last = Checkpoint.Latest(CheckpointDir);
        return new TrainingDivergedException(step,
            $"Training diverged: {what}. Nothing from this step was applied or saved; " +
            (last is null ? "there is no checkpoint yet. " : $"the last good checkpoint is {last}. ") +
            "Lower learning_rate, set grad_clip (e.g. 1.0) or a longer warmup_steps, then start a new run folder or resume from the checkpoint.");
    }

    static Tensor CrossEntropy(nn.Module<Tensor, Tensor> model, Tensor x, Tensor y)
    {
        var logits = model.forward(x);
        // fp32 softmax/log even for a bf16 model: the loss is a sum of many small terms.
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), y.reshape(-1), ignore_index: -1);
    }

    /// <summary>
    /// Mean cross-entropy over eval_batches train-split batches, then over eval_batches validation batches (this
    /// order: a replayed random stream depends on it), in eval mode (no dropout), with the fp32 master weights.
    /// </summary>
    (double Train, double Val) Evaluate(nn.Module<Tensor, Tensor> model, Device device)
    {
        model.eval();
        try
        {
            using var _ = torch.no_grad();
            var train = MeanLoss(model, _data.TrainSample(_config.EvalBatches), device, "train");
            var val = MeanLoss(model, _data.Validation(_config.EvalBatches), device, "validation");
            return (train, val);
        }
        finally { model.train(); }
    }

    static double MeanLoss(nn.Module<Tensor, Tensor> model, IEnumerable<(Tensor X, Tensor Y)> batches, Device device, string split)
    {
        double sum = 0;
        var n = 0;
        foreach (var (x, y) in batches)
        {
            using var scope = torch.NewDisposeScope();
            sum += CrossEntropy(model, x.to(device), y.to(device)).item<float>();
            n++;
        }
        if (n == 0) throw new InvalidOperationException($"The {split} split yields no batches: give the token file a {split} split at least context_length + 1 tokens long.");
        return sum / n;
    }

    static void CopyWeights(List<(string, Parameter)> from, List<(string, Parameter)> to)
    {
        using var _ = torch.no_grad();
        for (var i = 0; i < from.Count; i++) to[i].Item2.copy_(from[i].Item2);
    }

    static void AccumulateGradients(List<(string, Parameter)> compute, List<(string, Parameter)> master)
    {
        using var _ = torch.no_grad();
        for (var i = 0; i < compute.Count; i++)
        {
            var g = compute[i].Item2.grad;
            if (g is null) continue;
            var m = master[i].Item2;
            if (m.grad is null) m.grad = g.to(ScalarType.Float32).DetachFromDisposeScope();
            else m.grad.add_(g.to(ScalarType.Float32));
        }
    }

    static void WriteTensorBoard(SummaryWriter tb, MetricsRow row)
    {
        var s = (int)row.Step;
        tb.add_scalar("train/loss", (float)row.TrainLoss, s);
        if (row.ValLoss is { } v) tb.add_scalar("val/loss", (float)v, s);
        if (row.TrainEvalLoss is { } e) tb.add_scalar("train/eval_loss", (float)e, s);
        tb.add_scalar("train/lr", (float)row.Lr, s);
        tb.add_scalar("train/grad_norm", (float)row.GradNorm, s);
        tb.add_scalar("perf/tokens_per_s", (float)row.TokensPerS, s);
        tb.add_scalar("perf/mfu", (float)row.Mfu, s);
        tb.add_scalar("perf/rss_mb", (float)row.RssMb, s);
    }

    void EnsureSameRun(string checkpoint, CheckpointState saved)
    {
        if (saved.Model.ToJson() != _modelConfig.ToJson()) // records holding lists compare lists by reference
            throw new InvalidOperationException($"{_runDir} holds checkpoint {checkpoint} of a different model config: resume with Trainer.Resume(runDir) (which uses the stored configs) or choose a new run folder.");
        // Where and how fast it runs may change between sessions; what it computes may not.
        static TrainingConfig Substance(TrainingConfig c) => c with { Threads = 0, Device = "", PeakFlops = 0, TensorBoard = false };
        if (Substance(saved.Training).ToJson() != Substance(_config).ToJson())
            throw new InvalidOperationException($"{_runDir} holds checkpoint {checkpoint} of a different training config: resume with Trainer.Resume(runDir) (which uses the stored configs) or choose a new run folder.");
        if (saved.Tokenizer is not null && _data.Tokenizer is not null && !JsonNode.DeepEquals(saved.Tokenizer, _data.Tokenizer))
            throw new InvalidOperationException($"Checkpoint {checkpoint} was trained with tokenizer {saved.Tokenizer.ToJsonString()} but the data uses {_data.Tokenizer.ToJsonString()}: use the token file the run was trained on.");
    }

    void WriteRunConfig(Device device)
    {
        var doc = new JsonObject
        {
            ["model"] = JsonNode.Parse(_modelConfig.ToJson()),
            ["training"] = JsonNode.Parse(_config.ToJson()),
            ["data"] = _data.Describe().DeepClone(),
            ["environment"] = new JsonObject
            {
                ["dotnet"] = Environment.Version.ToString(),
                ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(),
                ["os"] = RuntimeInformation.OSDescription,
                ["machine"] = Environment.MachineName,
                ["processors"] = Environment.ProcessorCount,
                ["threads"] = torch.get_num_threads(),
                ["device"] = device.ToString(),
                ["started_utc"] = DateTime.UtcNow.ToString("o"),
            },
        };
        AtomicFile.WriteAllText(Path.Combine(_runDir, "config.json"), doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>"cpu" / "cuda" / "cuda:1"; empty picks cuda when available, else cpu; env LMHARNESS_DEVICE overrides empty.</summary>
    public static Device ResolveDevice(string name)
    {
        if (string.IsNullOrEmpty(name)) name = Environment.GetEnvironmentVariable("LMHARNESS_DEVICE") ?? "";
        if (string.IsNullOrEmpty(name)) return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        return torch.device(name);
    }
}
