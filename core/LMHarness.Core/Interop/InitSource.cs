using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.IO;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tokenizers;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using static TorchSharp.torch;

namespace LMHarness.Interop;

/// <summary>
/// A pretrained model a run starts from (training.init_from, nanoGPT's <c>init_from</c>): an HF checkpoint folder, a
/// harness export, a run folder (its newest intact checkpoint) or a <c>step_*.ckpt</c> file. Opening one reads its
/// config and tokenizer without building the model, and hashes its content: that SHA-256, not the path, goes into
/// the run's identity (<see cref="Pin"/>), so an edited or replaced source is a new run and a moved one is the same.
/// The weights are loaded by <see cref="ModelSource.Load"/>, which checks the config against the weights' header
/// before it builds; a damaged checkpoint is refused when opened, a damaged safetensors file when loaded.
/// <para>The model is the source's: a field that would change its weights is refused (<see cref="ModelFor(ModelConfig, IEnumerable{string})"/>).
/// Dropout and activation recomputation may change; the context may grow where positions are computed (RoPE, with or
/// without YaRN, or none), never learned; a shorter one leaves the model as it is. Optimizer state and schedule start fresh.</para>
/// </summary>
public sealed class InitSource
{
    /// <summary>The folder or checkpoint file the weights are read from (a run folder resolves to its checkpoint).</summary>
    public string Path { get; }
    /// <summary>"HF checkpoint", "harness export" or "checkpoint".</summary>
    public string Kind { get; }
    /// <summary>The model config the source's weights were made with.</summary>
    public ModelConfig Config { get; }
    /// <summary>The tokenizer the source's ids mean; null when the source does not record it.</summary>
    public TokenizerIdentity? Tokenizer { get; }
    /// <summary>SHA-256 of the source's content (for a folder: of its files' names and SHA-256s).</summary>
    public string Sha256 { get; }
    /// <summary>What opening decided on the way (e.g. a damaged newest checkpoint passed over).</summary>
    public IReadOnlyList<string> Notes { get; }

    InitSource(string path, string kind, ModelConfig config, TokenizerIdentity? tokenizer, string sha256, IReadOnlyList<string> notes) =>
        (Path, Kind, Config, Tokenizer, Sha256, Notes) = (path, kind, config, tokenizer, sha256, notes);

    /// <summary>"HF checkpoint /x/gpt2 (sha256 1a2b3c4d)".</summary>
    public override string ToString() => $"{Kind} {Path} (sha256 {Sha256[..8]})";

    /// <summary>The files of a folder source whose bytes decide the model and its tokenizer (those present are hashed).</summary>
    static readonly string[] FolderFiles =
        [HfModel.ConfigFile, HfModel.HarnessConfigFile, HfModel.WeightsFile, HfModel.TokenizerFile, "tokenizer.json", "vocab.json", "merges.txt"];

    // Opened sources by the length and write time of their files: an experiment opens one source per run it plans,
    // and hashing a large checkpoint once is enough while no file changes.
    static readonly ConcurrentDictionary<string, InitSource> Opened = new();

    /// <summary>
    /// Opens <paramref name="path"/>: resolves a run folder to its newest intact checkpoint, reads the config and
    /// tokenizer, verifies a checkpoint's checksums and hashes the content. Errors name the file and the fix.
    /// </summary>
    public static InitSource Open(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("init_from is empty: give an HF checkpoint folder, a harness export, a run folder or a step_*.ckpt file.");
        var full = System.IO.Path.GetFullPath(path);
        if (File.Exists(full))
        {
            if (!full.EndsWith(".ckpt", StringComparison.Ordinal))
                throw new ArgumentException($"init_from {full} is a file but not a checkpoint (step_*.ckpt): give a checkpoint, a run folder, an HF checkpoint folder or a harness export folder.");
            return OpenCheckpoint(full, []);
        }
        if (!Directory.Exists(full))
            throw new FileNotFoundException($"init_from {full} does not exist: give an HF checkpoint folder, a harness export, a run folder or a step_*.ckpt file.", full);
        var run = new RunFolder(full);
        if (Directory.Exists(run.CheckpointsPath)) return OpenRun(run);
        var kind = File.Exists(System.IO.Path.Combine(full, HfModel.ConfigFile)) ? "HF checkpoint"
            : HarnessExport.IsNative(full) ? "harness export"
            : throw new FileNotFoundException($"init_from {full} is neither a run folder (checkpoints/), an HF checkpoint ({HfModel.ConfigFile}) nor a harness export ({HfModel.HarnessConfigFile}).", full);
        var files = FolderFiles.Select(f => System.IO.Path.Combine(full, f)).Where(File.Exists).ToList();
        return Opened.GetOrAdd(Stamp(files), _ =>
        {
            var config = kind == "HF checkpoint" ? HfModel.ReadConfig(full).Config
                : ModelConfig.FromJson(File.ReadAllText(System.IO.Path.Combine(full, HfModel.HarnessConfigFile)), System.IO.Path.Combine(full, HfModel.HarnessConfigFile));
            var lines = files.Select(f => $"{System.IO.Path.GetFileName(f)} {ContentHash.OfFile(f)}\n");
            var sha = ContentHash.Hex(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(lines))));
            return new InitSource(full, kind, config, HfModel.ReadTokenizer(full), sha, []);
        });
    }

    static InitSource OpenRun(RunFolder run)
    {
        var damaged = new List<(string Path, string Reason)>();
        foreach (var checkpoint in run.Checkpoints.Reverse())
        {
            try
            {
                var notes = damaged.Select(d => $"{d.Path} is damaged ({d.Reason}): started from the older {System.IO.Path.GetFileName(checkpoint)} instead").ToList();
                return OpenCheckpoint(checkpoint, notes);
            }
            catch (InvalidDataException e) when (Checkpoint.IsDamage(e)) { damaged.Add((checkpoint, Checkpoint.DamageReason(e))); }
        }
        throw damaged.Count > 0 ? Checkpoint.AllDamaged(run.Path, damaged)
            : new FileNotFoundException($"init_from {run.Path} holds no complete checkpoint yet: train it further, or point at another source.", run.CheckpointsPath);
    }

    static InitSource OpenCheckpoint(string file, IReadOnlyList<string> notes)
    {
        var opened = Opened.GetOrAdd(Stamp([file]), _ =>
        {
            Checkpoint.Verify(file); // every section's checksum: a damaged source is refused here, naming it
            var state = Checkpoint.ReadState(file);
            var tokenizer = state.Tokenizer is null ? null : TokenizerIdentity.FromJson(state.Tokenizer.ToJsonString());
            return new InitSource(file, "checkpoint", state.Model, tokenizer, ContentHash.OfFile(file), []);
        });
        // The notes are this opening's (which newer checkpoints were passed over), not the cached one's.
        return notes.Count == 0 ? opened : new InitSource(opened.Path, opened.Kind, opened.Config, opened.Tokenizer, opened.Sha256, notes);
    }

    static string Stamp(IEnumerable<string> files) =>
        string.Join("|", files.Select(f => new FileInfo(f)).Select(f => $"{f.FullName}:{f.Length}:{f.LastWriteTimeUtc.Ticks}"));

    /// <summary>
    /// The model a run from this source trains: the source's config, with the fields named in <paramref name="given"/>
    /// (the knobs a user set) taken from <paramref name="requested"/> where they may change, and notes stating each
    /// change. A given field that would change the weights' meaning is refused, all such fields named in one error.
    /// </summary>
    public (ModelConfig Model, IReadOnlyList<string> Notes) ModelFor(ModelConfig requested, IEnumerable<string> given)
    {
        var have = (JsonObject)JsonNode.Parse(Config.ToJson())!;
        var want = (JsonObject)JsonNode.Parse(requested.ToJson())!;
        var model = Config;
        var notes = new List<string>();
        var refused = new List<string>();
        foreach (var field in given.Distinct())
        {
            if (JsonNode.DeepEquals(have[field], want[field])) continue;
            var change = $"{field} {Show(have[field])} -> {Show(want[field])}";
            switch (field)
            {
                case "dropout":
                    model = model with { Dropout = requested.Dropout };
                    notes.Add($"{change} (regularisation only: the weights mean the same)");
                    break;
                case "recompute_activations":
                    model = model with { RecomputeActivations = requested.RecomputeActivations };
                    notes.Add($"{change} (memory against compute: the results are the same)");
                    break;
                case "context_length" when requested.ContextLength < Config.ContextLength:
                    notes.Add($"context_length {Show(want[field])}: the model keeps the source's {Show(have[field])} (training on shorter windows needs no change to it)");
                    break;
                case "context_length" when Config.Position != PositionKind.Learned:
                    model = model with { ContextLength = requested.ContextLength };
                    notes.Add($"{change} ({Config.Position} positions are computed, not learned, so no weight changes; positions past " +
                              $"{Config.ContextLength} were never trained{(Config.Position == PositionKind.Rope ? ": set yarn to stretch RoPE to them" : "")})");
                    break;
                case "yarn" when Config.Position == PositionKind.Rope:
                    model = model with { Yarn = requested.Yarn };
                    notes.Add($"{change} (rescales RoPE's frequencies: no weight changes)");
                    break;
                case "context_length":
                    refused.Add(Config.Position == PositionKind.Learned
                        ? $"context_length {Show(want[field])} (the source's is {Show(have[field])}, and its learned position embedding has one row per position)"
                        : $"context_length {Show(want[field])} (the source's is {Show(have[field])})");
                    break;
                default:
                    refused.Add($"{field} {Show(want[field])} (the source's is {Show(have[field])})");
                    break;
            }
        }
        if (refused.Count > 0)
            throw new ArgumentException($"init_from {Path}: the model is built from the source's config, so {string.Join("; ", refused)} cannot be used. " +
                "Drop those knobs (dropout, recompute_activations, and a longer context where positions are not learned, may change), or train from scratch without init_from.");
        return (model.Validated(), notes);
    }

    /// <summary>As <see cref="ModelFor(ModelConfig, IEnumerable{string})"/> with every field where <paramref name="requested"/>
    /// differs from the source taken as given (a recipe's full config).</summary>
    public (ModelConfig Model, IReadOnlyList<string> Notes) ModelFor(ModelConfig requested)
    {
        var have = (JsonObject)JsonNode.Parse(Config.ToJson())!;
        var want = (JsonObject)JsonNode.Parse(requested.ToJson())!;
        return ModelFor(requested, have.Select(kv => kv.Key).Union(want.Select(kv => kv.Key)).Where(k => !JsonNode.DeepEquals(have[k], want[k])));
    }

    static string Show(JsonNode? node) => node is null ? "(none)" : node.ToJsonString();

    /// <summary>
    /// <paramref name="training"/> starting from this source: init_from set to its path and init_from_sha256 to its
    /// hash. A hash already given must be this source's: the source changed since it was pinned otherwise.
    /// </summary>
    public TrainingConfig Pin(TrainingConfig training)
    {
        if (training.InitFromSha256.Length > 0 && training.InitFromSha256 != Sha256)
            throw new InvalidDataException($"init_from_sha256 pins {training.InitFromSha256} but {Path} hashes to {Sha256}: the source was edited or replaced. " +
                "Restore the pinned source, or clear init_from_sha256 to start from the source as it is now (a new run).");
        return training with { InitFrom = Path, InitFromSha256 = Sha256 };
    }

    /// <summary>Refuses a token file whose tokenizer is not the source's, naming both (ids mean nothing under another tokenizer).</summary>
    public void EnsureTokenizer(TokenizerIdentity data, string tokenFile)
    {
        if (Tokenizer is null)
            throw new InvalidDataException($"init_from {Path} does not record its tokenizer, so {tokenFile} cannot be checked against it: " +
                "put the tokenizer files (tokenizer.json, or vocab.json and merges.txt) beside its weights, or export it again with its tokenizer.");
        if (!Tokenizer.Matches(data))
            throw new InvalidDataException($"Tokenizer mismatch: {tokenFile} was tokenized with {data.Describe()}, but init_from {Path} uses {Tokenizer.Describe()}. " +
                $"Prepare the corpus with the source's tokenizer: dotnet script scripts/prepare.csx -- --source <corpus> --tokenizer_from {Path}");
    }

    /// <summary>Checks <paramref name="tokenFile"/>'s tokenizer against this source (<see cref="EnsureTokenizer(TokenizerIdentity, string)"/>).</summary>
    public void EnsureTokenizer(string tokenFile)
    {
        using var file = TokenFile.Open(tokenFile, checkIds: false);
        EnsureTokenizer(file.Tokenizer, tokenFile);
    }

    /// <summary>
    /// The tokenizer of the model at <paramref name="path"/> (any init_from source), to prepare a corpus a run from it
    /// can train on; refused, with the fix, when the source does not record one.
    /// </summary>
    public static ITokenizer TokenizerOf(string path)
    {
        var source = Open(path);
        return source.Tokenizer is { } id ? TokenizerFactory.Create(id)
            : throw new InvalidDataException($"{source.Path} does not record its tokenizer: put the tokenizer files (tokenizer.json, or vocab.json and merges.txt) beside its weights, or prepare with --tokenizer NAME.");
    }

    /// <summary>
    /// Loads the weights into a new float32 CPU model of <paramref name="config"/> (this source's config, or one
    /// <see cref="ModelFor(ModelConfig, IEnumerable{string})"/> returned). The source is hashed again first (cheap while
    /// its files are unchanged): one edited since it was opened is refused rather than trained from.
    /// </summary>
    public CausalLM Load(ModelConfig config)
    {
        var now = File.Exists(Path) ? OpenCheckpoint(Path, Notes) : Open(Path);
        if (now.Sha256 != Sha256)
            throw new InvalidDataException($"init_from {Path} changed since it was opened (sha256 {Sha256[..8]} -> {now.Sha256[..8]}): run again to start from it as it is now.");
        var loaded = ModelSource.Load(Path).Model;
        if (loaded.Config.ToJson() == config.ToJson()) return loaded;
        // Only fields that leave the parameters' names and shapes alone differ (ModelFor): copy them across.
        using (loaded)
        {
            var model = new CausalLM(config);
            using var scope = NewDisposeScope();
            ModelWeights.Load(model, ModelWeights.Snapshot(loaded), Path);
            return model;
        }
    }

    /// <summary>
    /// Everything a trainer needs to start <paramref name="training"/> from its init_from source on
    /// <paramref name="tokenFile"/>: the source's model (<paramref name="requested"/>'s <paramref name="given"/> fields applied
    /// where they may change; every field that differs when <paramref name="given"/> is null), the training config
    /// pinned to the source's hash, the stream that loads it, and notes stating what changed. The token file's
    /// tokenizer must be the source's. Pass the results to <see cref="Trainer.For"/>.
    /// </summary>
    public static (ModelConfig Model, TrainingConfig Training, IRunStream Stream, IReadOnlyList<string> Notes) Plan(
        ModelConfig requested, IEnumerable<string>? given, TrainingConfig training, string tokenFile, IRunStream? stream = null)
    {
        if (training.InitFrom.Length == 0) throw new ArgumentException("training.init_from is empty: nothing to start from (use Trainer.For for a run from scratch).");
        var source = Open(training.InitFrom);
        source.EnsureTokenizer(tokenFile);
        var (model, changes) = given is null ? source.ModelFor(requested) : source.ModelFor(requested, given);
        if (training.InitOptimizer) source.EnsureOptimizerState(training);
        var notes = source.Notes.Concat(changes).Prepend(training.InitOptimizer
            ? $"starting from {source}: the optimizer from its state, the learning-rate schedule fresh"
            : $"starting from {source}: optimizer state and learning-rate schedule start fresh").ToList();
        return (model, source.Pin(training), source.Stream(stream), notes);
    }

    /// <summary>A random stream whose model is this source's (loaded by <see cref="Load"/>) and whose batches are
    /// <paramref name="inner"/>'s (the harness's when null); it carries the source's hash for the trainer to check.</summary>
    public IRunStream Stream(IRunStream? inner = null) => new SourceStream(this, inner ?? HarnessStream.Instance);

    sealed class SourceStream(InitSource source, IRunStream inner) : IRunStream
    {
        public string Name => inner.Name;
        public nn.Module<Tensor, Tensor> Build(ModelConfig model, long seed) => source.Load(model);
        public IBatchSource OpenBatches(TokenFile file, TrainingConfig training) => inner.OpenBatches(file, training);
        public string InitFromSha256 => source.Sha256;
        public string InitOptimizerFrom => source.Kind == "checkpoint" ? source.Path : "";
    }

    /// <summary>
    /// Refuses training.init_optimizer from this source unless it holds optimizer state that fits
    /// <paramref name="training"/>: a harness checkpoint (an HF checkpoint or an export has none) trained with the same
    /// optimizer, the same freeze, and learning rates per group in the same ratios (so its groups are this run's:
    /// scaling learning_rate as a whole keeps them). Every mismatch is named in one error.
    /// </summary>
    public void EnsureOptimizerState(TrainingConfig training)
    {
        if (Kind != "checkpoint")
            throw new ArgumentException($"init_optimizer: {this} holds no optimizer state ({Kind}s have weights only): start from a run folder or a step_*.ckpt, or drop init_optimizer.");
        var source = Checkpoint.ReadState(Path).Training;
        var problems = new List<string>();
        if (source.Optimizer != training.Optimizer)
            problems.Add($"optimizer {training.Optimizer} (the source's is {source.Optimizer})");
        if (!(source.Freeze ?? []).SequenceEqual(training.Freeze ?? []))
            problems.Add($"freeze [{string.Join(", ", training.Freeze ?? [])}] (the source's is [{string.Join(", ", source.Freeze ?? [])}])");
        var (ours, theirs) = (Training.Optimizers.GroupLearningRates.Of(training), Training.Optimizers.GroupLearningRates.Of(source));
        double[] a = [ours.Embedding, ours.Head, ours.Matrix, ours.Scalar], b = [theirs.Embedding, theirs.Head, theirs.Matrix, theirs.Scalar];
        if (a.Zip(b, (x, y) => x / y).Any(r => Math.Abs(r / (a[0] / b[0]) - 1) > 1e-9))
            problems.Add($"learning rates per group (embedding, head, matrix, scalar) {Rates(a)}, not in the source's ratios {Rates(b)}");
        static string Rates(double[] r) => string.Join(", ", r.Select(x => x.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)));
        if (problems.Count > 0)
            throw new ArgumentException($"init_optimizer: the optimizer state in {Path} does not fit this run: {string.Join("; ", problems)}. " +
                "The state's groups must be this run's: give the source's values (learning_rate may scale them all), or drop init_optimizer.");
    }
}
