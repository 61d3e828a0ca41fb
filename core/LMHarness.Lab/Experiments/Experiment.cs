using System.Diagnostics;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Reports;
using LMHarness.Summary;
using LMHarness.Training;
using System.Text.Json.Nodes;
using LMHarness.Corpora;
using LMHarness.Terminal;
using TorchSharp;
using LMHarness.Runs;

namespace LMHarness.Experiments;

/// <summary>
/// The plumbing of a recipe in <c>experiments/</c>: command-line knobs, the prepared data, running every variant for
/// every seed into <c>runs/&lt;experiment&gt;/&lt;variant&gt;/seed&lt;k&gt;/</c>, and the comparison (PNGs,
/// comparison.csv, comparison.md) written next to them. A recipe declares knobs and variants and calls
/// <see cref="Run"/>; it reads top to bottom like a lab notebook.
/// <para>Re-running a recipe reuses what is done, the way a build system does: a run is identified by what determines
/// its results (<see cref="RunIdentity"/>: model, training substance, seed, data, random stream). A finished run with
/// the same identity is reused ("reused"), an interrupted one resumes from its checkpoint, and a variant whose config
/// changed trains into a new folder (<c>seed&lt;k&gt;-&lt;identity&gt;</c>) beside the earlier one, which is kept; the
/// report says which results are new. <c>--fresh</c> retrains the current runs on purpose (their folders are replaced).</para>
/// <para>Smoke mode (<c>--smoke</c> or env <c>LMHARNESS_SMOKE=1</c>) shortens every run to a few steps so CI can run
/// every recipe through the same path in seconds; it writes under <c>runs/smoke/</c>, never beside real results.</para>
/// </summary>
public sealed class Experiment
{
    readonly ScriptArgs _args;
    readonly List<(string Name, ModelConfig Model, TrainingConfig Training, IRunStream Stream)> _variants = [];
    readonly Dictionary<(string, int), string> _paths = [];
    readonly string _root;
    string? _tokenFile;
    int? _vocab;

    /// <summary>Steps per run in smoke mode.</summary>
    public const int SmokeSteps = 6;

    /// <summary>An experiment named <paramref name="name"/> (its folder under runs/) reading its knobs from <paramref name="args"/>.</summary>
    public Experiment(string name, IList<string> args)
    {
        Name = name;
        _args = new ScriptArgs(args);
        if (_args.Positional.Count > 0)
            throw new ArgumentException($"experiment {name}: unexpected argument '{_args.Positional[0]}'. Knobs are given as --key value (e.g. --seeds 3), flags as --smoke.");
        Smoke = _args.Has("smoke", $"{SmokeSteps} steps per run, one seed, under <out>/smoke/ (or env LMHARNESS_SMOKE=1)")
                || Environment.GetEnvironmentVariable("LMHARNESS_SMOKE") == "1";
        Fresh = _args.Get("fresh", false, "retrain runs that are already finished");
        Seeds = Knob("seeds", Smoke ? 1 : 2, "seeds per variant (seed k trains with the training seed + k)"); // smoke: one seed, the plumbing is the same
        if (Seeds < 1) throw new ArgumentException($"experiment {name}: --seeds must be >= 1 (got {Seeds}).");
        _root = Path.GetFullPath(_args.Get<string?>("out", null, "runs folder (or env LMHARNESS_RUNS; default <clone>/runs)")
                                 ?? Environment.GetEnvironmentVariable("LMHARNESS_RUNS") ?? Path.Combine(RepoRoot(), "runs"));
        Folder = Smoke ? Path.Combine(_root, "smoke", name) : Path.Combine(_root, name);
        if (_args.Get<string?>("data", null, "a prepared token file (default TinyShakespeare, char tokenizer)") is { } d) _tokenFile = Path.GetFullPath(d);
        _dtype = Knob<TrainingDtype?>("dtype", null, "fp32 or bf16 for every variant (default: each variant's own)");
        Console.WriteLine($"== experiment {name}{(Smoke ? $" (smoke mode: {SmokeSteps} steps per run, written apart from real results)" : "")}: " +
                          $"{Seeds} seed(s), runs in {Folder}{(Fresh ? " (--fresh: retraining)" : "")}");
    }

    /// <summary>The experiment's name: its folder under runs/.</summary>
    public string Name { get; }
    /// <summary><c>runs/&lt;name&gt;</c>: run folders, comparison PNGs and summaries.</summary>
    public string Folder { get; }
    /// <summary>Whether runs are cut to <see cref="SmokeSteps"/> steps (and kept under runs/smoke/).</summary>
    public bool Smoke { get; }
    /// <summary>Whether the current runs are retrained even when finished ones exist (knob <c>--fresh</c>).</summary>
    public bool Fresh { get; }
    /// <summary>Seeds per variant (knob <c>--seeds</c>, default 2; 1 in smoke mode).</summary>
    public int Seeds { get; }

    /// <summary>
    /// A knob: the command-line value of <c>--key value</c> when given, else <paramref name="defaultValue"/>.
    /// int, long, double, bool (a bare <c>--key</c> is true) and string are understood.
    /// </summary>
    public T Knob<T>(string key, T defaultValue, string help = "")
    {
        try { return _args.Get(key, defaultValue, help); }
        catch (ArgumentException e) { throw new ArgumentException($"experiment {Name}: {e.Message}"); }
    }

    /// <summary>
    /// The token file every run trains on: <c>--data path</c>, else TinyShakespeare prepared once with the char
    /// tokenizer into <c>runs/data/tinyshakespeare_char.bin</c> (the text found by <see cref="TinyShakespeare.Locate"/>).
    /// </summary>
    public string TokenFile
    {
        get
        {
            StopForHelp();
            if (_tokenFile is not null) return _tokenFile;
            var path = Path.Combine(_root, "data", "tinyshakespeare_char.bin");
            if (!File.Exists(path) || !File.Exists(TokenFileInfo.SidecarPath(path)))
            {
                Console.WriteLine($"preparing TinyShakespeare (char tokenizer) into {path}");
                Preparer.Prepare(TinyShakespeare.Source(), "char", path, new PrepareOptions { Progress = null });
            }
            return _tokenFile = path;
        }
    }

    /// <summary>The vocabulary size of <see cref="TokenFile"/>'s tokenizer: use it as the model's vocab_size.</summary>
    public int VocabSize
    {
        get
        {
            StopForHelp();
            if (_vocab is int v) return v;
            using var file = Data.TokenFile.Open(TokenFile, checkIds: false);
            return (_vocab = file.Tokenizer.VocabSize).Value;
        }
    }

    /// <summary>Adds a variant: a model and how to train it, on the harness's random stream unless <paramref name="stream"/>
    /// says otherwise. Names become folder names and legend entries. The model's vocab_size is set to the vocabulary of
    /// <see cref="TokenFile"/> when the variant runs (a recipe need not write it).</summary>
    public Experiment Variant(string name, ModelConfig model, TrainingConfig training, IRunStream? stream = null)
    {
        StopForHelp();
        if (_variants.Any(v => v.Name == name)) throw new ArgumentException($"experiment {Name}: variant '{name}' is declared twice.");
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' '))
            throw new ArgumentException($"experiment {Name}: variant name '{name}' must be a plain folder name (letters, digits, - _ .).");
        _variants.Add((name, model.Validated(), training, stream ?? HarnessStream.Instance));
        return this;
    }

    /// <summary>Trainable parameters of the model a config builds (a tied head counted once).</summary>
    public static long Parameters(ModelConfig config) => ModelSummary.Of(config).TotalParameters;

    /// <summary>Trainable parameters of a variant's model: <paramref name="config"/> with this experiment's vocabulary size.</summary>
    public long ParameterCount(ModelConfig config) => Parameters(ModelFor(config));

    /// <summary>The training config smoke mode actually runs: <see cref="SmokeSteps"/> steps, evaluation and gradient flow every 3.</summary>
    public static TrainingConfig SmokeVersion(TrainingConfig t) => t with
    {
        MaxSteps = SmokeSteps, MaxTokens = 0, WarmupSteps = Math.Min(t.WarmupSteps, 1), EvalInterval = 3, EvalBatches = 2,
        LogInterval = 1, GradFlowInterval = 3, CheckpointInterval = 0, AlphaBeta3Warmup = Math.Min(t.AlphaBeta3Warmup, SmokeSteps),
    };

    /// <summary>The folder that holds (or, before <see cref="Run"/>, will hold) the current run of a variant and seed.</summary>
    public string RunFolder(string variant, int seed)
    {
        if (_paths.TryGetValue((variant, seed), out var path)) return path;
        var v = _variants.FirstOrDefault(x => x.Name == variant);
        if (v.Name is null) throw new ArgumentException($"experiment {Name}: no variant '{variant}' (it has {string.Join(", ", _variants.Select(x => x.Name))}).");
        return Locate(variant, seed, Identity(ModelFor(v.Model), TrainingFor(v.Training, seed), v.Stream)).Path;
    }

    TrainingConfig TrainingFor(TrainingConfig training, int seed) =>
        (Smoke ? SmokeVersion(training) : training) with { Seed = training.Seed + seed, Dtype = _dtype ?? training.Dtype };

    /// <summary>The model a variant trains: the recipe's, with the data's vocabulary size.</summary>
    ModelConfig ModelFor(ModelConfig model) => model.VocabSize == VocabSize ? model : model with { VocabSize = VocabSize };

    readonly TrainingDtype? _dtype;

    /// <summary>With --help, the knobs are declared once the recipe first uses the data or declares a variant: print them and end.</summary>
    void StopForHelp()
    {
        if (_args.HelpRequested) _args.EnsureAllUsed($"experiment {Name}");
    }

    JsonObject? _data;

    string Identity(ModelConfig model, TrainingConfig training, IRunStream stream)
    {
        if (_data is null)
        {
            using var file = Data.TokenFile.Open(TokenFile, checkIds: false);
            _data = file.Describe();
        }
        var data = (JsonObject)_data.DeepClone();
        data["stream"] = stream.Name;
        return RunIdentity.Of(model, training, data);
    }

    /// <summary>
    /// Where the run of this identity lives: the <c>seed&lt;k&gt;</c> folder (or a <c>seed&lt;k&gt;-...</c> one) whose
    /// config.json has this identity; else <c>seed&lt;k&gt;</c> when nothing is there yet; else a new
    /// <c>seed&lt;k&gt;-&lt;identity&gt;</c> beside the earlier runs, which are kept. Also returns the newest earlier run.
    /// </summary>
    (string Path, string? Earlier) Locate(string variant, int seed, string identity)
    {
        var dir = Path.Combine(Folder, variant);
        var plain = Path.Combine(dir, $"seed{seed}");
        var candidates = (Directory.Exists(dir) ? Directory.GetDirectories(dir, $"seed{seed}-*") : []).Prepend(plain)
            .Where(d => new RunFolder(d).HasConfig).ToList();
        foreach (var d in candidates)
            if (RunIdentity.Of(new RunFolder(d).ReadConfig()) == identity) return (d, null);
        var earlier = candidates.OrderBy(d => File.GetLastWriteTimeUtc(Path.Combine(d, Runs.RunFolder.ConfigFile))).LastOrDefault();
        return (earlier is null ? plain : Path.Combine(dir, $"seed{seed}-{identity[..8]}"), earlier);
    }

    /// <summary>
    /// Trains (or reuses, or resumes) every variant for every seed (seed k uses training seed + k), then writes and
    /// prints the comparison of the current runs. Returns it for the recipe's own conclusions.
    /// </summary>
    public ComparisonReport Run()
    {
        StopForHelp();
        if (_variants.Count == 0) throw new InvalidOperationException($"experiment {Name}: no variants: call Variant(name, model, training) first.");
        var unknown = _args.Unused;
        if (unknown.Count > 0)
            throw new ArgumentException($"experiment {Name}: unknown knob(s) {string.Join(", ", unknown.Select(k => "--" + k))}; this recipe reads {string.Join(", ", _args.Used.Select(k => "--" + k))}.");
        var tokenFile = TokenFile;
        var clock = Stopwatch.StartNew();
        var runs = new List<RunData>();
        var notes = new List<string>();
        foreach (var (variant, recipeModel, training, stream) in _variants)
            for (int k = 0; k < Seeds; k++)
            {
                var model = ModelFor(recipeModel);
                var t = TrainingFor(training, k);
                var (path, earlier) = Locate(variant, k, Identity(model, t, stream));
                _paths[(variant, k)] = path;
                var run = new RunFolder(path, variant, k);
                var head = $"-- {variant} seed{k}: {Parameters(model):N0} params, {t.TotalSteps} steps x {t.TokensPerStep} tokens";
                if (Fresh && run.Exists) Directory.Delete(path, recursive: true);
                if (run.ReadResult() is { Complete: true } done && !Fresh)
                {
                    Console.WriteLine($"{head}: reused {path} (val {done.FinalValLoss:F4}; --fresh retrains it)");
                    notes.Add($"{variant}/seed{k}: reused ({path})");
                }
                else
                {
                    var change = earlier is null ? "" : $" (config changed since {earlier}, which is kept: {string.Join("; ", Changes(earlier, model, t))})";
                    var resumed = run.LatestCheckpoint is { } checkpoint ? $" (resumed from {Path.GetFileName(checkpoint)})" : "";
                    Console.WriteLine($"{head} -> {path}{change}");
                    var trainer = Trainer.For(model, t, tokenFile, path, stream);
                    trainer.Progress = TrainingProgressBar.ForConsole();
                    var result = trainer.Train();
                    Console.WriteLine($"   {result}");
                    // Ctrl-C (or SIGTERM): the run saved its checkpoint; stop here rather than start the next run.
                    if (result.Interrupted)
                        throw new OperationCanceledException($"experiment {Name} interrupted: {variant}/seed{k} saved its checkpoint at step {result.Steps} " +
                            $"in {path}. Run the same command again to resume; finished runs are reused.");
                    notes.Add($"{variant}/seed{k}: {(resumed.Length > 0 ? "resumed" : "new")}{(Fresh ? " (--fresh)" : "")}{resumed}{change} ({path})");
                }
                runs.Add(RunData.Load(run));
            }
        var report = Comparison.Write(runs, Folder, logAxes: false, notes);
        Console.WriteLine();
        Console.WriteLine(File.ReadAllText(report.MarkdownPath));
        Console.WriteLine(report);
        Console.WriteLine($"experiment {Name} finished in {Duration(clock.Elapsed)}");
        return report;
    }

    static IEnumerable<string> Changes(string earlier, ModelConfig model, TrainingConfig training)
    {
        var before = new RunFolder(earlier).ReadConfig();
        var changes = ConfigDifference.Between(before.Model, model).Concat(ConfigDifference.Between(before.Training.Substance, training.Substance)).ToList();
        return changes.Count > 0 ? changes : ["the data or random stream"];
    }

    static string Duration(TimeSpan t) => t.TotalSeconds < 120 ? $"{t.TotalSeconds:F0} s" : $"{t.TotalMinutes:F1} min";

    /// <summary>The folder holding LMHarness.sln above the current directory, else the current directory.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LMHarness.sln"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }
}
