using System.Diagnostics;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Reports;
using LMHarness.Training;
using LMHarness.Training.Metrics;
using TorchSharp;

namespace LMHarness.Experiments;

/// <summary>
/// The plumbing of a recipe in <c>experiments/</c>: command-line knobs, the prepared data, running every variant for
/// every seed into <c>runs/&lt;experiment&gt;/&lt;variant&gt;/seed&lt;k&gt;/</c>, and the comparison (PNGs, summary.csv,
/// summary.md) written next to them. A recipe declares knobs and variants and calls <see cref="Run"/>; it reads
/// top to bottom like a lab notebook.
/// <para>Smoke mode (<c>--smoke</c> or env <c>LMHARNESS_SMOKE=1</c>) shortens every run to a few steps so CI can run
/// every recipe through the same path in seconds.</para>
/// </summary>
public sealed class Experiment
{
    readonly ScriptArgs _args;
    readonly List<(string Name, ModelConfig Model, TrainingConfig Training)> _variants = [];
    string? _tokenFile;
    int? _vocab;

    /// <summary>Steps per run in smoke mode.</summary>
    public const int SmokeSteps = 6;

    public Experiment(string name, IList<string> args)
    {
        Name = name;
        _args = new ScriptArgs(args);
        if (_args.Positional.Count > 0)
            throw new ArgumentException($"experiment {name}: unexpected argument '{_args.Positional[0]}'. Knobs are given as --key value (e.g. --seeds 3), flags as --smoke.");
        Smoke = _args.Has("smoke") || Environment.GetEnvironmentVariable("LMHARNESS_SMOKE") == "1";
        Seeds = Knob("seeds", Smoke ? 1 : 2); // smoke: one seed, the plumbing is the same
        if (Seeds < 1) throw new ArgumentException($"experiment {name}: --seeds must be >= 1 (got {Seeds}).");
        var runs = _args.Get<string?>("out", null) ?? Environment.GetEnvironmentVariable("LMHARNESS_RUNS") ?? Path.Combine(RepoRoot(), "runs");
        Folder = Path.GetFullPath(Path.Combine(runs, name));
        if (_args.Get<string?>("data", null) is { } d) _tokenFile = Path.GetFullPath(d);
        Console.WriteLine($"== experiment {name}{(Smoke ? " (smoke mode: " + SmokeSteps + " steps per run)" : "")}: {Seeds} seed(s), runs in {Folder}");
    }

    /// <summary>The experiment's name: its folder under runs/.</summary>
    public string Name { get; }
    /// <summary><c>runs/&lt;name&gt;</c>: run folders, comparison PNGs and summaries.</summary>
    public string Folder { get; }
    /// <summary>Whether runs are cut to <see cref="SmokeSteps"/> steps.</summary>
    public bool Smoke { get; }
    /// <summary>Seeds per variant (knob <c>--seeds</c>, default 2; 1 in smoke mode).</summary>
    public int Seeds { get; }

    /// <summary>
    /// A knob: the command-line value of <c>--key value</c> when given, else <paramref name="defaultValue"/>.
    /// int, long, double, bool (a bare <c>--key</c> is true) and string are understood.
    /// </summary>
    public T Knob<T>(string key, T defaultValue)
    {
        try { return _args.Get(key, defaultValue); }
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
            if (_tokenFile is not null) return _tokenFile;
            var path = Path.Combine(Path.GetDirectoryName(Folder)!, "data", "tinyshakespeare_char.bin");
            if (!File.Exists(path) || !File.Exists(TokenFileInfo.SidecarPath(path)))
            {
                Console.WriteLine($"preparing TinyShakespeare (char tokenizer) into {path}");
                Preparer.Prepare(TinyShakespeare.Source(), "char", path, new PrepareOptions { Progress = false });
            }
            return _tokenFile = path;
        }
    }

    /// <summary>The vocabulary size of <see cref="TokenFile"/>'s tokenizer: use it as the model's vocab_size.</summary>
    public int VocabSize
    {
        get
        {
            if (_vocab is int v) return v;
            using var file = Data.TokenFile.Open(TokenFile, checkIds: false);
            return (_vocab = file.Tokenizer.VocabSize).Value;
        }
    }

    /// <summary>Adds a variant: a model and how to train it. Names become folder names and legend entries.</summary>
    public Experiment Variant(string name, ModelConfig model, TrainingConfig training)
    {
        if (_variants.Any(v => v.Name == name)) throw new ArgumentException($"experiment {Name}: variant '{name}' is declared twice.");
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' '))
            throw new ArgumentException($"experiment {Name}: variant name '{name}' must be a plain folder name (letters, digits, - _ .).");
        _variants.Add((name, model.Validated(), training));
        return this;
    }

    /// <summary>Trainable parameters of the model a config builds (built on the CPU and freed at once).</summary>
    public static long Parameters(ModelConfig config)
    {
        using var model = new CausalLM(config);
        return model.parameters().Sum(p => p.numel());
    }

    /// <summary>The training config smoke mode actually runs: <see cref="SmokeSteps"/> steps, evaluation and gradient flow every 3.</summary>
    public static TrainingConfig SmokeVersion(TrainingConfig t) => t with
    {
        MaxSteps = SmokeSteps, MaxTokens = 0, WarmupSteps = Math.Min(t.WarmupSteps, 1), EvalInterval = 3, EvalBatches = 2,
        LogInterval = 1, GradFlowInterval = 3, CheckpointInterval = 0, AlphaBeta3Warmup = Math.Min(t.AlphaBeta3Warmup, SmokeSteps),
    };

    /// <summary>The run folder of one variant and seed.</summary>
    public string RunFolder(string variant, int seed) => Path.Combine(Folder, variant, $"seed{seed}");

    /// <summary>
    /// Trains every variant for every seed (seed k uses training seed + k; each run folder starts fresh), then
    /// writes and prints the comparison. Returns it for the recipe's own conclusions.
    /// </summary>
    public ComparisonReport Run()
    {
        if (_variants.Count == 0) throw new InvalidOperationException($"experiment {Name}: no variants: call Variant(name, model, training) first.");
        var unknown = _args.Unused;
        if (unknown.Count > 0)
            throw new ArgumentException($"experiment {Name}: unknown knob(s) {string.Join(", ", unknown.Select(k => "--" + k))}; this recipe reads {string.Join(", ", _args.Used.Select(k => "--" + k))}.");
        var tokenFile = TokenFile;
        var peak = Throughput.MeasurePeakFlops(torch.CPU, torch.ScalarType.Float32); // once, so MFU is comparable across runs
        var clock = Stopwatch.StartNew();
        var runs = new List<RunData>();
        foreach (var (variant, model, training) in _variants)
            for (int k = 0; k < Seeds; k++)
            {
                var dir = RunFolder(variant, k);
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                var t = (Smoke ? SmokeVersion(training) : training) with { Seed = training.Seed + k };
                if (t.PeakFlops == 0) t = t with { PeakFlops = peak };
                Console.WriteLine($"-- {variant} seed{k}: {Parameters(model):N0} params, {t.TotalSteps} steps x {t.TokensPerStep} tokens -> {dir}");
                var summary = Trainer.Run(model, t, tokenFile, dir);
                Console.WriteLine($"   {summary}");
                runs.Add(RunData.Load(dir));
            }
        var report = Comparison.Write(runs, Folder, logAxes: false);
        Console.WriteLine();
        Console.WriteLine(File.ReadAllText(report.SummaryMarkdown));
        Console.WriteLine(report);
        Console.WriteLine($"experiment {Name} finished in {clock.Elapsed.TotalMinutes:F1} min");
        return report;
    }

    /// <summary>The folder holding LMHarness.sln above the current directory, else the current directory.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LMHarness.sln"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }
}
