using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Runs;
using LMHarness.Summary;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Logging;
using LMHarness.Training.Optimizers;
using LMHarness.Training.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The training loop, composed of parts the way torchtitan's Trainer is: a <see cref="PrecisionPolicy"/> (fp32, or bf16
/// compute with fp32 master weights), a <see cref="TrainStep"/> (forward, backward, accumulation, clipping, optimizer),
/// an <see cref="Evaluator"/>, checkpoints (<see cref="Checkpointing"/>), and <see cref="IRunLogger"/>s (metrics.csv,
/// gradflow.csv, TensorBoard, the console, callbacks). What to build and which batches to draw are handed in (an
/// <see cref="IRunStream"/>, or a builder and an <see cref="IBatchSource"/>), so the trainer knows nothing of replays.
/// <para>One writer per run folder (<see cref="RunLock"/>). A folder holding checkpoints is resumed from its newest
/// one, bit-exactly on the CPU; a finished run is reported, not retrained; a finished run whose max_steps (or
/// max_tokens) was raised continues from its last checkpoint with the schedule of the new length.</para>
/// <para>Losses and gradient norms stay on the device between log steps (no host sync per step on a GPU); a
/// non-finite one stops the run at the next log, evaluation or checkpoint step, naming the first bad step, and
/// nothing non-finite is ever saved.</para>
/// </summary>
public sealed class Trainer
{
    readonly ModelConfig _model;
    readonly TrainingConfig _training;
    readonly IBatchSource _data;
    readonly RunFolder _folder;
    readonly Func<ModelConfig, nn.Module<Tensor, Tensor>> _build;
    readonly IDisposable? _owned;
    readonly string _builtFrom;
    readonly string _optimizerFrom;
    volatile bool _stop;

    /// <param name="model">The model to build (validated).</param>
    /// <param name="training">How to train it (validated; its context must fit the model's).</param>
    /// <param name="data">Training and validation batches.</param>
    /// <param name="runDir">The run folder; created when missing, resumed when it holds a checkpoint.</param>
    /// <param name="build">Builds the model with its initial weights, called just after torch.manual_seed(seed)
    /// (for the harness's own stream: <c>c => new CausalLM(c)</c>); forward(idx) must return logits (B, T, V).</param>
    public Trainer(ModelConfig model, TrainingConfig training, IBatchSource data, string runDir, Func<ModelConfig, nn.Module<Tensor, Tensor>> build)
        : this(model, training, data, runDir, build, null, "", "") { }

    Trainer(ModelConfig model, TrainingConfig training, IBatchSource data, string runDir, Func<ModelConfig, nn.Module<Tensor, Tensor>> build, IDisposable? owned,
        string builtFrom, string optimizerFrom)
    {
        _model = model.Validated();
        _training = training.Validated();
        if (_training.ContextLength > _model.ContextLength)
            throw new ArgumentException($"training context_length ({_training.ContextLength}) exceeds the model's context_length ({_model.ContextLength}): lower the training one or raise the model's.");
        if (_training.HeadLearningRate > 0 && _model.TieEmbeddings)
            throw new ArgumentException($"head_learning_rate ({_training.HeadLearningRate}) applies to an untied lm_head, but this model ties the head to the token embedding (which takes embedding_learning_rate): set tie_embeddings false or head_learning_rate 0.");
        _data = data;
        _folder = new RunFolder(runDir);
        _build = build;
        _owned = owned;
        _builtFrom = builtFrom;
        _optimizerFrom = optimizerFrom;
    }

    /// <summary>
    /// A trainer for <paramref name="model"/> on <paramref name="tokenFile"/> into <paramref name="runDir"/>, following
    /// <paramref name="stream"/> (the harness's own when null). It owns the token file and closes it after training.
    /// </summary>
    public static Trainer For(ModelConfig model, TrainingConfig training, string tokenFile, string runDir, IRunStream? stream = null)
    {
        stream ??= HarnessStream.Instance;
        var config = training.Validated();
        var file = TokenFile.Open(tokenFile);
        try
        {
            if (file.Tokenizer.VocabSize > model.VocabSize)
                throw new ArgumentException($"The token file {tokenFile} uses {file.Tokenizer.Describe()} ({file.Tokenizer.VocabSize} ids) but the model's vocab_size is {model.VocabSize}: set vocab_size >= {file.Tokenizer.VocabSize}.");
            var data = stream.OpenBatches(file, config);
            return new Trainer(model, config, data, runDir, c => stream.Build(c, config.Seed), file, stream.InitFromSha256, stream.InitOptimizerFrom);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Trains <paramref name="model"/> on <paramref name="tokenFile"/> into <paramref name="runDir"/> (see <see cref="For"/>).</summary>
    public static RunResult Run(ModelConfig model, TrainingConfig training, string tokenFile, string runDir, IRunStream? stream = null) =>
        For(model, training, tokenFile, runDir, stream).Train();

    /// <summary>Continues the run in <paramref name="runDir"/> with the configs, token file and stream its config.json records.</summary>
    public static RunResult Resume(string runDir, IRunStream? stream = null)
    {
        var folder = new RunFolder(runDir);
        var config = folder.ReadConfig();
        if (folder.LatestCheckpoint is null)
            throw new InvalidOperationException($"{folder.Path} has no checkpoint to resume from: start it again with Trainer.Run.");
        stream ??= HarnessStream.Instance;
        if (config.Stream != stream.Name)
            throw new ArgumentException($"{folder.Path} follows the '{config.Stream}' random stream: resume it with that stream (e.g. Trainer.Resume(dir, NanoGptStream.Instance) for nanogpt), not '{stream.Name}'.");
        var tokenFile = config.TokenFile
            ?? throw new InvalidDataException($"{folder.File(RunFolder.ConfigFile)} does not record data.token_file: it was written by a custom data source; resume with new Trainer(...).Train().");
        return Run(config.Model, config.Training, tokenFile, runDir, stream);
    }

    /// <summary>The run folder this trainer writes.</summary>
    public RunFolder Folder => _folder;

    /// <summary>The console view (plain lines by default; LMHarness.Lab has a terminal bar). Null for none.</summary>
    public IRunLogger? Progress { get; set; } = new ProgressLines();

    /// <summary>More loggers, called after the run folder's own.</summary>
    public IList<IRunLogger> Loggers { get; } = new List<IRunLogger>();

    /// <summary>Start a fresh run even where the folder holds files no run wrote, or another run's config (they are overwritten).</summary>
    public bool Overwrite { get; set; }

    /// <summary>Raised after every optimizer step with that step's metrics (val_loss set on evaluation steps). Subscribing
    /// makes the trainer read the loss after every step (on a GPU, a host sync per step).</summary>
    public event Action<MetricsRow>? StepCompleted;

    /// <summary>Asks the loop to finish the current step, write a checkpoint and return (what Ctrl-C does).</summary>
    public void RequestStop() => _stop = true;

    /// <summary>Trains to the end (or until stopped), resuming from the run folder's newest checkpoint when there is one.</summary>
    /// <remarks>Whatever can refuse the run (the configs, the device, the memory plan, the folder's contents) is checked
    /// before anything is written: a refused run leaves no folder, no .lock and no file. config.json is rewritten only
    /// once the run starts, after its CSVs were opened, so an extension that cannot write them leaves it as it was.</remarks>
    public RunResult Train()
    {
        try
        {
            ResidentMemory.ResetPeak(); // this run's peak, not that of runs this process trained before it
            var runtimeMb = ResidentMemory.Megabytes(); // the process before the model: the memory plan's runtime on the CPU
            if (_training.Threads > 0) torch.set_num_threads(_training.Threads);
            var device = Devices.Resolve(_training.Device);
            var plan = RunMemory.Plan(_model, _training, device, runtimeMb, _folder.Path); // refuses a CPU run that cannot fit, before building
            var writer = _folder.Lock();
            try { return TrainLocked(device, plan, runtimeMb); }
            catch when (!_started)
            {
                writer.Abandon(); // refused by what the folder holds, or failed before the first write: leave no trace
                throw;
            }
            finally { writer.Dispose(); }
        }
        finally { _owned?.Dispose(); }
    }

    /// <summary>Whether this run has begun writing its folder (its CSVs opened).</summary>
    bool _started;

    RunResult TrainLocked(Device device, MemoryPlan plan, double startRssMb)
    {
        var total = _training.TotalSteps;
        var checkpoints = new Checkpointing(_folder, _model, _training, _data);
        var saved = checkpoints.LatestState();
        if (saved is null) { EnsureStartsFromItsSource(); checkpoints.EnsureFreshStartAllowed(Overwrite); }
        else if (saved.Step >= total && _folder.ReadResult() is { Complete: true } done && done.Steps == saved.Step)
        {
            Progress?.OnMessage($"{_folder.Path} is complete ({done.Steps} steps): nothing to train. Raise max_steps to extend it, or choose a new folder.");
            return done;
        }

        var tf32 = _training.Dtype == TrainingDtype.Fp32 && Devices.EnableTf32(device); // fp32 matmuls on tensor cores (CUDA only)
        RandomState.Seed(_training.Seed);
        using var precision = PrecisionPolicy.Create(_training.Dtype, () => Freezing.Apply(_build(_model), _training.Freeze), device);
        if (_training.Freeze is { } freeze) Progress?.OnMessage(Freezing.Describe(precision.Master, freeze));
        using var optimizer = OptimizerFactory.Create(precision.Master, _training);
        var (state, restored) = saved is null ? (RunState.Fresh, null) : checkpoints.Restore(precision.Master, optimizer, Progress);
        if (saved is null && _training.InitOptimizer) StartOptimizerFromSource(optimizer);
        precision.SyncCompute();

        var schedule = LearningRateSchedule.For(_training);
        var step = new TrainStep(precision, optimizer, _data, _training, device);
        var evaluator = new Evaluator(_data, _training, device);
        var clock = new RunClock(restored?.ElapsedSeconds ?? 0, restored?.TrainSeconds ?? restored?.ElapsedSeconds ?? 0, restored?.EvalSeconds ?? 0, device);
        var meter = new RunMeter(ModelSummary.Of(_model).FlopsPerToken(_training.ContextLength, _training.Freeze),
            _training.PeakFlops > 0 ? _training.PeakFlops : null, precision.ComputeDtype,
            Math.Max(restored?.PeakRssMb ?? PriorPeakRss(state.Step), startRssMb), restored?.PeakGpuMb, state, clock, device);
        _started = true;
        using var loggers = OpenLoggers(restored is null ? null : state.Step);
        // Last, once the CSVs are open: an extension that fails before this point leaves config.json describing the run on disk.
        _folder.WriteConfig(new RunConfig(_model, _training, _data.Describe(), Environment(device, tf32)));
        loggers.OnStart(new RunStart(_folder, state.Step, total, checkpoints.RestoredFrom));
        using var signals = StopOnSignals();
        using var pending = new PendingLosses();
        clock.Start(); // setup since the clock was made counts in elapsed_s only

        if (state.Step == 0) // the untrained model, about ln(vocab) when the initialisation is sound, as nanoGPT reports it
        {
            var e = clock.Evaluate(() => evaluator.Run(precision.Compute));
            state = state.With(e.TrainLoss, e);
            loggers.OnMetrics(meter.Row(state, clock, e, e.TrainLoss, 0, schedule.At(0)));
        }
        while (state.Step < total && !_stop)
        {
            using var scope = torch.NewDisposeScope();
            var lr = schedule.At(state.Step);
            pending.Add(state.Step + 1, step.Run(schedule.Factor(state.Step), state.Step + 1, GradFlowDue(state.Step + 1) ? loggers.OnGradFlow : null));
            state = state.Next(_training.TokensPerStep);

            var evaluate = state.Step % _training.EvalInterval == 0 || state.Step == total;
            var checkpoint = (_training.CheckpointInterval > 0 && state.Step % _training.CheckpointInterval == 0) || state.Step == total;
            // A stop (Ctrl-C) checkpoints its step but logs no row there, so that the resumed run's metrics.csv has the
            // rows of the uninterrupted one, no more.
            var log = state.Step % _training.LogInterval == 0 || evaluate || checkpoint;
            if (!log && !_stop && StepCompleted is null) continue;
            var (loss, norm) = pending.Read(_folder.LatestCheckpoint); // the host reads losses here only
            var evaluation = evaluate ? clock.Evaluate(() => evaluator.Run(precision.Compute)) : null;
            state = state.With(loss, evaluation);
            var row = meter.Row(state, clock, evaluation, loss, norm, lr);
            if (log) loggers.OnMetrics(row);
            StepCompleted?.Invoke(row);                               // may ask to stop: then this step is checkpointed
            if (checkpoint || _stop) clock.Exclude(() => checkpoints.Save(state, clock, (meter.PeakRssMb, meter.PeakGpuMb), precision.Master, optimizer, loggers));
        }

        var result = meter.Result(_folder, state, clock, total, precision.MasterParameters.Sum(p => p.Param.numel())) with { PlannedMemory = plan.Planned() };
        _folder.WriteResult(result);
        loggers.OnEnd(result);
        return result;
    }

    /// <summary>
    /// A fresh init_from run must start from the weights of the source its config names (by content hash); a resumed one
    /// takes its weights from its checkpoint, so only a fresh start is checked.
    /// </summary>
    void EnsureStartsFromItsSource()
    {
        if (_training.InitFrom.Length == 0 && _builtFrom.Length == 0) return;
        if (_training.InitFromSha256.Length == 0 || _builtFrom != _training.InitFromSha256)
            throw new ArgumentException(_builtFrom.Length == 0
                ? $"training.init_from is {_training.InitFrom}, but this trainer would start from random weights: build it with InitSource.Plan (the Interop namespace), which loads the source and sets init_from_sha256."
                : $"this trainer starts from a source with SHA-256 {_builtFrom}, but training.init_from_sha256 is '{_training.InitFromSha256}' (init_from '{_training.InitFrom}'): take both from one InitSource (source.Pin(training) and source.Stream(...)).");
    }

    /// <summary>init_optimizer: the source checkpoint's optimizer state (its moments and step count; this run's hyperparameters).</summary>
    void StartOptimizerFromSource(IOptimizer optimizer)
    {
        if (_optimizerFrom.Length == 0)
            throw new ArgumentException($"training.init_optimizer is set, but this trainer has no checkpoint to take optimizer state from: build it with InitSource.Plan (the Interop namespace) from a run folder or a step_*.ckpt.");
        Checkpoint.LoadOptimizer(_optimizerFrom, optimizer);
        Progress?.OnMessage($"init_optimizer: the optimizer starts from the state in {_optimizerFrom}, with this run's learning rates, betas and weight decay");
    }

    /// <summary>The largest rss_mb among the rows a resumed run keeps (for checkpoints written before peaks were saved).</summary>
    double PriorPeakRss(long step) =>
        step > 0 && _folder.HasMetrics ? _folder.ReadMetrics().Where(r => r.Step <= step).Select(r => r.RssMb).DefaultIfEmpty(0).Max() : 0;

    bool GradFlowDue(long step) => _training.GradFlowInterval > 0 && step % _training.GradFlowInterval == 0;

    RunLoggers OpenLoggers(long? keepUpToStep)
    {
        var keep = keepUpToStep;
        var all = new List<IRunLogger> { new MetricsCsvLogger(_folder, keep), new GradFlowCsvLogger(_folder, keep) };
        if (_training.TensorBoard) all.Add(new TensorBoardLogger(_folder));
        if (Progress is not null) all.Add(Progress);
        all.AddRange(Loggers);
        return new RunLoggers(all);
    }

    IDisposable StopOnSignals()
    {
        void OnSignal(PosixSignalContext ctx)
        {
            // First Ctrl-C: finish the step, checkpoint, return. A second one while that happens kills the process as usual.
            // A repeated SIGTERM does not: supervisors repeat it, and a process group's TERM can arrive twice (directly,
            // and forwarded by the `dotnet` CLI and the script launcher).
            if (_stop && ctx.Signal == PosixSignal.SIGINT) return;
            ctx.Cancel = true;
            if (_stop) return;
            Console.Error.WriteLine("Interrupted: finishing the current step and writing a checkpoint (press Ctrl-C again to abort without one).");
            RequestStop();
        }
        return new Disposables(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal));
    }

    static JsonObject Environment(Device device, bool tf32) => new()
    {
        ["gpu"] = GpuInfo.Default.Name(device),
        ["tf32"] = tf32,
        ["dotnet"] = System.Environment.Version.ToString(),
        ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(),
        ["os"] = RuntimeInformation.OSDescription,
        ["machine"] = System.Environment.MachineName,
        ["processors"] = System.Environment.ProcessorCount,
        ["threads"] = torch.get_num_threads(),
        ["device"] = device.ToString(),
        ["started_utc"] = DateTime.UtcNow.ToString("o"),
    };

    sealed class Disposables(params IDisposable[] items) : IDisposable
    {
        public void Dispose() { foreach (var d in items) d.Dispose(); }
    }
}
