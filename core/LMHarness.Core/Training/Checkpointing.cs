using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Runs;
using LMHarness.Training.Checkpoints;
using LMHarness.Training.Logging;
using LMHarness.Training.Optimizers;
using static TorchSharp.torch;

namespace LMHarness.Training;

/// <summary>
/// The trainer's use of a run folder's checkpoints: whether the folder may be trained into (the same run, or a fresh
/// folder, or consent to overwrite), restoring the newest readable checkpoint (falling back to an older one, with a
/// warning, when the newest is damaged), and saving one at a step, keeping the newest keep_checkpoints.
/// <para>A run resumes only as itself: the same model config, the same tokenizer and random stream, and the same
/// training config except for the fields that cannot change what is computed (<see cref="TrainingConfig.Substance"/>)
/// and its length
/// (max_steps / max_tokens), which may be raised to extend a run: the schedule is then the one of the new length,
/// evaluated from the step the run is at.</para>
/// </summary>
public sealed class Checkpointing(RunFolder folder, ModelConfig model, TrainingConfig training, IBatchSource data)
{
    /// <summary>The training config's substance without its length: what must match to resume.</summary>
    static TrainingConfig Substance(TrainingConfig c) => c.Substance with { MaxSteps = 1, MaxTokens = 0 };

    /// <summary>
    /// The state of the newest checkpoint whose state section is intact, after checking it belongs to this run, or null
    /// when there is none. A folder whose checkpoints are all damaged is refused, naming them: never restarted from 0.
    /// </summary>
    public CheckpointState? LatestState()
    {
        var damaged = new List<(string Path, string Reason)>();
        string? latest = null;
        CheckpointState? saved = null;
        foreach (var path in folder.Checkpoints.Reverse())
        {
            try { (latest, saved) = (path, Checkpoint.ReadState(path)); break; }
            catch (InvalidDataException e) when (Checkpoint.IsDamage(e)) { damaged.Add((path, Checkpoint.DamageReason(e))); }
        }
        if (saved is null || latest is null) return damaged.Count == 0 ? null : throw Checkpoint.AllDamaged(folder.Path, damaged);
        var differences = ConfigDifference.Between(saved.Model, model).Concat(ConfigDifference.Between(Substance(saved.Training), Substance(training))).ToList();
        if (differences.Count > 0)
            throw new InvalidOperationException($"{folder.Path} holds a run of a different config (checkpoint {Path.GetFileName(latest)}): " +
                string.Join("; ", differences) + ". Resume it with its own configs (Trainer.Resume, or the same command as before), or train into a new folder.");
        if (saved.Tokenizer is not null && data.Tokenizer is not null && !JsonNode.DeepEquals(saved.Tokenizer, data.Tokenizer))
            throw new InvalidOperationException($"{folder.Path} was trained with tokenizer {saved.Tokenizer.ToJsonString()} but the data uses {data.Tokenizer.ToJsonString()}: use the token file the run was trained on.");
        if (folder.HasConfig && folder.ReadConfig().Stream is var stream && stream != (data.Describe()["stream"]?.GetValue<string>() ?? HarnessStream.StreamName))
            throw new InvalidOperationException($"{folder.Path} follows the '{stream}' random stream, but this trainer's batches follow another: resume it with its own stream.");
        if (saved.Step > training.TotalSteps)
            throw new InvalidOperationException($"{folder.Path} is at step {saved.Step}, past this config's {training.TotalSteps} steps: raise max_steps to at least {saved.Step}.");
        return saved;
    }

    /// <summary>
    /// A folder without a checkpoint may be trained into from step 0 only when that puts nothing at risk: it is
    /// empty, or it holds only what an earlier start of this very run wrote. Otherwise <paramref name="overwrite"/>
    /// must say so; the refusal names what would be lost.
    /// </summary>
    public void EnsureFreshStartAllowed(bool overwrite)
    {
        if (overwrite || !folder.Exists) return;
        var foreign = folder.ForeignEntries();
        if (foreign.Count > 0)
            throw new InvalidOperationException($"{folder.Path} holds files no run wrote ({string.Join(", ", foreign.Take(5))}{(foreign.Count > 5 ? ", ..." : "")}): " +
                "choose an empty or new folder, or pass overwrite (--overwrite) to train there anyway.");
        if (!folder.HasConfig) return;
        var other = folder.ReadConfig();
        var differences = ConfigDifference.Between(other.Model, model).Concat(ConfigDifference.Between(Substance(other.Training), Substance(training))).ToList();
        if (differences.Count > 0 || (folder.HasMetrics && folder.ReadResult() is { Complete: true }))
            throw new InvalidOperationException($"{folder.Path} holds another run's results and no checkpoint to resume" +
                (differences.Count > 0 ? $" ({string.Join("; ", differences)})" : "") +
                ": choose a new folder, or pass overwrite (--overwrite) to replace them.");
    }

    /// <summary>
    /// Restores weights, optimizer state, torch's generator and the batch source from the newest intact checkpoint.
    /// Each load verifies the file's checksums before it changes anything, so a damaged one is skipped whole, with a
    /// warning naming it and the one used instead; when every one is damaged the run is refused naming them.
    /// </summary>
    public (RunState State, CheckpointState Saved) Restore(nn.Module master, IOptimizer optimizer, IRunLogger? log)
    {
        RestoredFrom = null;
        var damaged = new List<(string Path, string Reason)>();
        foreach (var path in folder.Checkpoints.Reverse())
        {
            CheckpointState saved;
            try { saved = Checkpoint.Load(path, master, optimizer, log is null ? TextWriter.Null : new MessageWriter(log)); }
            catch (InvalidDataException e) when (Checkpoint.IsDamage(e)) { damaged.Add((path, Checkpoint.DamageReason(e))); continue; }
            if (saved.BatchState is not null) data.LoadState(saved.BatchState);
            RestoredFrom = path;
            foreach (var (bad, reason) in damaged)
                log?.OnMessage($"warning: checkpoint {bad} is damaged ({reason}); resuming from the previous checkpoint {path} instead, so the steps after it are trained again.");
            log?.OnMessage($"resuming {folder.Path} from step {saved.Step} ({Path.GetFileName(path)}) to step {training.TotalSteps}" +
                (saved.Training.TotalSteps != training.TotalSteps ? $": extended from {saved.Training.TotalSteps} steps; the learning-rate schedule is now the one of {training.TotalSteps} steps" : ""));
            return (new RunState(saved.Step, saved.TokensSeen, null, null, saved.BestValLoss), saved);
        }
        throw damaged.Count > 0 ? Checkpoint.AllDamaged(folder.Path, damaged) : new InvalidOperationException($"{folder.CheckpointsPath} holds no checkpoint to restore.");
    }

    /// <summary>The checkpoint the last <see cref="Restore"/> loaded (older than the newest when that one was damaged).</summary>
    public string? RestoredFrom { get; private set; }

    /// <summary>Hands each line written to it (a format-1 checkpoint's warning) to the run's loggers.</summary>
    sealed class MessageWriter(IRunLogger log) : StringWriter
    {
        public override void WriteLine(string? value) => log.OnMessage(value ?? "");
    }

    /// <summary>Writes the checkpoint of <paramref name="state"/> with the run's memory peaks so far, and deletes all but the
    /// newest keep_checkpoints; one that cannot be deleted is a warning to <paramref name="log"/>, and the run goes on.</summary>
    public void Save(RunState state, RunClock clock, (double Rss, double? Gpu) peakMb, nn.Module master, IOptimizer optimizer, IRunLogger? log)
    {
        Checkpoint.Save(folder.CheckpointPath(state.Step), new CheckpointState(state.Step, state.Tokens, clock.ElapsedSeconds, state.BestValLoss,
            model, training, data.Tokenizer, data.SaveState())
        { TrainSeconds = clock.TrainSeconds, EvalSeconds = clock.EvalSeconds, PeakRssMb = peakMb.Rss, PeakGpuMb = peakMb.Gpu }, master, optimizer);
        foreach (var (path, reason) in folder.PruneCheckpoints(training.KeepCheckpoints))
            if (_undeletable.Add(path)) // once per file, not at every later checkpoint
                log?.OnMessage($"warning: could not delete the old checkpoint {path} ({reason.TrimEnd('.')}); training goes on, and it stays " +
                               $"beyond keep_checkpoints ({training.KeepCheckpoints}) until you delete it (after chattr -i if it is immutable).");
    }

    readonly HashSet<string> _undeletable = new(StringComparer.Ordinal);
}
