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
using LMHarness.IO;
using LMHarness.Interop;
using LMHarness.Plots;

namespace LMHarness.Experiments;

/// <summary>
/// The plumbing of a recipe in <c>experiments/</c>: command-line knobs, the prepared data, running every variant for
/// every seed into <c>runs/&lt;experiment&gt;/&lt;variant&gt;/seed&lt;k&gt;/</c>, and the comparison (PNGs, comparison.csv,
/// comparison.statistics.csv, comparison.md, report.html) written next to them. A recipe declares knobs and variants and calls
/// <see cref="Run"/>; it reads top to bottom like a lab notebook.
/// <para>Re-running a recipe reuses what is done, the way a build system does: a run is identified by what determines
/// its results (<see cref="RunIdentity"/>: model, training substance, seed, data, random stream). A finished run with
/// the same identity is reused ("reused"), an interrupted one resumes from its checkpoint, and a variant whose config
/// changed trains into a new folder (<c>seed&lt;k&gt;-&lt;identity&gt;</c>) beside the earlier one, which is kept; the
/// report says which results are new. <c>--fresh</c> retrains the current runs on purpose (their folders are replaced).</para>
/// <para>Every recipe takes <c>--seeds N</c> (default 3: the fewest that give a usable 95 % interval) and
/// <c>--lr_sweep</c>: each variant then trains over a log grid of learning rates around its own, and the comparison
/// is of the variants each at its best rate (<see cref="LearningRateSweep"/>).</para>
/// <para>Smoke mode (<c>--smoke</c> or env <c>LMHARNESS_SMOKE=1</c>) shortens every run to a few steps so CI can run
/// every recipe through the same path in seconds; it writes under <c>runs/smoke/</c>, never beside real results.</para>
/// </summary>
public sealed class Experiment
{
    readonly ScriptArgs _args;
    readonly List<(string Name, ModelConfig Model, TrainingConfig Training, IRunStream Stream, int Seeds)> _variants = [];
    readonly Dictionary<(string, int), string> _paths = [];
    readonly string _root;
    string? _tokenFile;
    int? _vocab;

    /// <summary>Steps per run in smoke mode.</summary>
    public const int SmokeSteps = 6;

    /// <summary>An experiment named <paramref name="name"/> (its folder under runs/) reading its knobs from <paramref name="args"/>.</summary>
    public Experiment(string name, IList<string> args) : this(name, args, lrSweep: false) { }

    /// <summary>
    /// An experiment whose <c>--lr_sweep</c> knob defaults to <paramref name="lrSweep"/>: a recipe about learning
    /// rates sweeps unless told <c>--lr_sweep false</c>.
    /// </summary>
    public Experiment(string name, IList<string> args, bool lrSweep) : this(name, args, lrSweep, DefaultSeeds, LearningRateSweep.DefaultPoints) { }

    /// <summary>
    /// As <see cref="Experiment(string, IList{string}, bool)"/>, with the defaults of <c>--seeds</c> and
    /// <c>--lr_sweep_points</c> set by the recipe (one whose cost is its many rates may afford fewer seeds, and need more rates).
    /// </summary>
    public Experiment(string name, IList<string> args, bool lrSweep, int seeds, int sweepPoints)
    {
        Name = name;
        _args = new ScriptArgs(args);
        if (_args.Positional.Count > 0)
            throw new ArgumentException($"experiment {name}: unexpected argument '{_args.Positional[0]}'. Knobs are given as --key value (e.g. --seeds 3), flags as --smoke.");
        Smoke = _args.Has("smoke", $"{SmokeSteps} steps per run, one seed, under <out>/smoke/ (or env LMHARNESS_SMOKE=1)")
                || Environment.GetEnvironmentVariable("LMHARNESS_SMOKE") == "1";
        Fresh = _args.Get("fresh", false, "retrain runs that are already finished");
        // Three seeds: the fewest that give a usable interval (with two, t(0.975, 1) = 12.7 makes every 95 % interval
        // span the whole plot). Smoke mode: one seed, the plumbing is the same.
        Seeds = Knob("seeds", Smoke ? 1 : seeds, "seeds per variant (seed k trains with the training seed + k)");
        if (Seeds < 1) throw new ArgumentException($"experiment {name}: --seeds must be >= 1 (got {Seeds}).");
        LrSweep = Knob("lr_sweep", lrSweep, "train each variant over a log grid of learning rates and compare them each at its best");
        SweepPoints = Knob("lr_sweep_points", Smoke ? 3 : sweepPoints, "rates in each variant's initial sweep grid");
        if (SweepPoints < 3) throw new ArgumentException($"experiment {name}: --lr_sweep_points must be >= 3 (got {SweepPoints}).");
        _root = Path.GetFullPath(_args.Get<string?>("out", null, "runs folder (or env LMHARNESS_RUNS; default <clone>/runs)")
                                 ?? Environment.GetEnvironmentVariable("LMHARNESS_RUNS") ?? Path.Combine(RepoRoot(), "runs"));
        Folder = Smoke ? Path.Combine(_root, "smoke", name) : Path.Combine(_root, name);
        if (_args.Get<string?>("data", null, "a prepared token file (default TinyShakespeare, char tokenizer)") is { } d) _tokenFile = Path.GetFullPath(d);
        Dtype = Knob<TrainingDtype?>("dtype", null, "fp32 or bf16 for every variant (default: each variant's own)");
        Console.WriteLine($"== experiment {name}{(Smoke ? $" (smoke mode: {SmokeSteps} steps per run, written apart from real results)" : "")}: " +
                          $"{Seeds} seed(s){(LrSweep ? $", learning-rate sweep over {SweepPoints}+ rates" : "")}, runs in {Folder}{(Fresh ? " (--fresh: retraining)" : "")}");
    }

    /// <summary>The experiment's name: its folder under runs/.</summary>
    public string Name { get; }
    /// <summary><c>runs/&lt;name&gt;</c>: run folders, comparison PNGs and summaries.</summary>
    public string Folder { get; }
    /// <summary>Whether runs are cut to <see cref="SmokeSteps"/> steps (and kept under runs/smoke/).</summary>
    public bool Smoke { get; }
    /// <summary>Whether the current runs are retrained even when finished ones exist (knob <c>--fresh</c>).</summary>
    public bool Fresh { get; }
    /// <summary>Seeds per variant (knob <c>--seeds</c>, default <see cref="DefaultSeeds"/>; 1 in smoke mode).</summary>
    public int Seeds { get; }
    /// <summary>The runs <see cref="Run"/> compared (with <c>--lr_sweep</c>, each variant's at its best rate), for a
    /// recipe's own conclusions from their metrics; empty before <see cref="Run"/>.</summary>
    public IReadOnlyList<RunData> Runs { get; private set; } = [];
    /// <summary>With <c>--lr_sweep</c>: every variant at every rate tried (the seeds' final validation losses), as lr_sweep.csv
    /// has them; empty before <see cref="Run"/> or without a sweep.</summary>
    public IReadOnlyList<SweepPoint> Sweep { get; private set; } = [];
    /// <summary>Seeds per variant unless <c>--seeds</c> says otherwise.</summary>
    public const int DefaultSeeds = 3;
    /// <summary>Whether every variant is trained over a grid of learning rates and compared at its best (knob <c>--lr_sweep</c>).</summary>
    public bool LrSweep { get; }
    /// <summary>Rates in each variant's initial grid (knob <c>--lr_sweep_points</c>, default 5 unless the recipe says; 3 in smoke mode).</summary>
    public int SweepPoints { get; }
    /// <summary>How often a grid may grow past an edge (<see cref="LearningRateSweep.MaxExtensions"/>; 1 in smoke mode).</summary>
    int SweepExtensions => Smoke ? 1 : LearningRateSweep.MaxExtensions;

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

    /// <summary>
    /// Trains on corpus <paramref name="spec"/> (a <see cref="Corpus"/> name such as <c>dotnet_docs</c>, or a path),
    /// prepared once into the cache with <paramref name="tokenizer"/>, instead of TinyShakespeare: for a recipe that
    /// needs more text than TinyShakespeare's ~1M characters. <c>--data</c>, when given, still wins.
    /// </summary>
    public Experiment UseCorpus(string spec, string tokenizer = "char")
    {
        StopForHelp();
        if (_args.Get<string?>("data", null) is null) _tokenFile = Corpus.Prepared(spec, tokenizer);
        _vocab = null;
        return this;
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
    /// says otherwise, for <see cref="Seeds"/> seeds unless <paramref name="seeds"/> says otherwise (a baseline that
    /// replays one published run, an ablation that affords one seed; smoke mode runs one). Names become folder names
    /// and legend entries. The model's vocab_size is set to the vocabulary of <see cref="TokenFile"/> when the variant
    /// runs (a recipe need not write it). A variant whose <paramref name="training"/> has init_from starts from that
    /// pretrained model (<see cref="InitSource"/>): its model is the source's, <paramref name="model"/> may differ from
    /// it only where a pretrained model may change (dropout, a longer RoPE context), and the data's tokenizer must be the source's.</summary>
    public Experiment Variant(string name, ModelConfig model, TrainingConfig training, IRunStream? stream = null, int? seeds = null)
    {
        StopForHelp();
        if (seeds < 1) throw new ArgumentException($"experiment {Name}: variant '{name}' needs at least 1 seed (got {seeds}).");
        if (_variants.Any(v => v.Name == name)) throw new ArgumentException($"experiment {Name}: variant '{name}' is declared twice.");
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' '))
            throw new ArgumentException($"experiment {Name}: variant name '{name}' must be a plain folder name (letters, digits, - _ .).");
        // Both configs checked here, as each variant is declared: a bad one is refused before any variant trains.
        try
        {
            TrainingFor(training, 0).Validated(); // what will run (smoke mode shortens it)
            _variants.Add((name, model.Validated(), training, stream ?? HarnessStream.Instance, Smoke ? 1 : seeds ?? Seeds));
        }
        catch (ArgumentException e) { throw new ArgumentException($"experiment {Name}: variant '{name}': {e.Message}", e); }
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
        var (model, training) = Planned(v.Model, v.Training, seed);
        return Locate(variant, seed, Identity(model, training, v.Stream)).Path;
    }

    /// <summary>
    /// The model and training config seed <paramref name="seed"/> of a variant runs. A variant whose training config
    /// has init_from starts from that source (<see cref="InitSource"/>): its model is the source's (the recipe's config
    /// may differ only where a pretrained model may, e.g. dropout), and its training is pinned to the source's content hash,
    /// which so enters the run's identity.
    /// </summary>
    (ModelConfig Model, TrainingConfig Training) Planned(ModelConfig recipeModel, TrainingConfig training, int seed)
    {
        var t = TrainingFor(training, seed);
        if (t.InitFrom.Length == 0) return (ModelFor(recipeModel), t);
        var source = InitSource.Open(t.InitFrom);
        // The vocabulary is the source's: the tokenizer check (at training) makes sure the data's ids fit it.
        return (source.ModelFor(recipeModel with { VocabSize = source.Config.VocabSize }).Model, source.Pin(t));
    }

    TrainingConfig TrainingFor(TrainingConfig training, int seed) =>
        (Smoke ? SmokeVersion(training) : training) with { Seed = training.Seed + seed, Dtype = Dtype ?? training.Dtype };

    /// <summary>The model a variant trains: the recipe's, with the data's vocabulary size.</summary>
    ModelConfig ModelFor(ModelConfig model) => model.VocabSize == VocabSize ? model : model with { VocabSize = VocabSize };

    /// <summary>The dtype every variant trains in (knob <c>--dtype</c>), or null for each variant's own: for a recipe to
    /// pass on to a companion experiment (finetune's pretraining), so the whole recipe runs in what the user asked.</summary>
    public TrainingDtype? Dtype { get; }

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
        var earlier = candidates.OrderBy(d => File.GetLastWriteTimeUtc(Path.Combine(d, LMHarness.Runs.RunFolder.ConfigFile))).LastOrDefault();
        return (earlier is null ? plain : Path.Combine(dir, $"seed{seed}-{identity[..8]}"), earlier);
    }

    /// <summary>
    /// Trains (or reuses, or resumes) every variant for every seed (seed k uses training seed + k), then writes and
    /// prints the comparison of the current runs. With <c>--lr_sweep</c> every variant is first trained over a grid of
    /// learning rates (<see cref="LearningRateSweep"/>) and the comparison is of the variants each at its own best rate
    /// (<see cref="RunSweep"/>). Returns the comparison for the recipe's own conclusions.
    /// </summary>
    public ComparisonReport Run()
    {
        StopForHelp();
        if (_variants.Count == 0) throw new InvalidOperationException($"experiment {Name}: no variants: call Variant(name, model, training) first.");
        var unknown = _args.Unused;
        if (unknown.Count > 0)
            throw new ArgumentException($"experiment {Name}: unknown knob(s) {string.Join(", ", unknown.Select(k => "--" + k))}; this recipe reads {string.Join(", ", _args.Used.Select(k => "--" + k))}.");
        _ = TokenFile;
        var clock = Stopwatch.StartNew();
        var notes = new List<string>();
        ComparisonReport report;
        if (LrSweep) report = RunSweep(notes);
        else
        {
            var runs = new List<RunData>();
            foreach (var (variant, model, training, stream, seeds) in _variants)
                runs.AddRange(TrainSeeds(variant, variant, model, training, stream, seeds, notes));
            Runs = runs;
            report = Comparison.Write(runs, Folder, logAxes: false, notes);
        }
        Console.WriteLine();
        Console.WriteLine(File.ReadAllText(report.MarkdownPath));
        Console.WriteLine(report);
        Console.WriteLine($"experiment {Name} finished in {Duration(clock.Elapsed)}");
        return report;
    }

    /// <summary>
    /// Trains (or reuses, or resumes) one model and training config for every seed into <c>Folder/folder/seed&lt;k&gt;</c>
    /// and returns the runs, labelled as seeds of <paramref name="variant"/>. A run that diverges is kept as it stopped
    /// (its final loss is then its last finite one, or none) when <paramref name="tolerateDivergence"/>, as a sweep's
    /// highest rates may; otherwise the divergence propagates.
    /// </summary>
    List<RunData> TrainSeeds(string folder, string variant, ModelConfig recipeModel, TrainingConfig training, IRunStream stream, int seeds, List<string> notes,
        bool tolerateDivergence = false)
    {
        var runs = new List<RunData>();
        for (int k = 0; k < seeds; k++)
        {
            var (model, t) = Planned(recipeModel, training, k);
            var (path, earlier) = Locate(folder, k, Identity(model, t, stream));
            _paths[(folder, k)] = path;
            var run = new RunFolder(path, variant, k);
            var head = $"-- {folder} seed{k}: {Parameters(model):N0} params, {t.TotalSteps} steps x {t.TokensPerStep} tokens";
            if (Fresh && run.Exists) Directory.Delete(path, recursive: true);
            if (run.ReadResult() is { Complete: true } done && !Fresh)
            {
                Console.WriteLine($"{head}: reused {path} (val {done.FinalValLoss:F4}; --fresh retrains it)");
                notes.Add($"{folder}/seed{k}: reused ({path})");
            }
            else
            {
                var change = earlier is null ? "" : $" (config changed since {earlier}, which is kept: {string.Join("; ", Changes(earlier, model, t))})";
                var resumed = run.LatestCheckpoint is { } checkpoint ? $" (resumed from {Path.GetFileName(checkpoint)})" : "";
                Console.WriteLine($"{head} -> {path}{change}");
                var runStream = stream;
                if (t.InitFrom.Length > 0)
                {
                    (_, _, runStream, var initNotes) = InitSource.Plan(model, null, t, TokenFile, stream); // refuses another tokenizer
                    foreach (var note in initNotes) Console.WriteLine($"   {note}");
                }
                var trainer = Trainer.For(model, t, TokenFile, path, runStream);
                trainer.Progress = TrainingProgressBar.ForConsole();
                RunResult result;
                try { result = trainer.Train(); }
                catch (TrainingDivergedException e) when (tolerateDivergence)
                {
                    Console.WriteLine($"   diverged: {e.Message}");
                    notes.Add($"{folder}/seed{k}: diverged at step {e.Step} ({path})");
                    runs.Add(RunData.Load(run));
                    continue;
                }
                Console.WriteLine($"   {result}");
                // Ctrl-C (or SIGTERM): the run saved its checkpoint; stop here rather than start the next run.
                if (result.Interrupted)
                    throw new OperationCanceledException($"experiment {Name} interrupted: {folder}/seed{k} saved its checkpoint at step {result.Steps} " +
                        $"in {path}. Run the same command again to resume; finished runs are reused.");
                notes.Add($"{folder}/seed{k}: {(resumed.Length > 0 ? "resumed" : "new")}{(Fresh ? " (--fresh)" : "")}{resumed}{change} ({path})");
            }
            runs.Add(RunData.Load(run));
        }
        return runs;
    }

    /// <summary>
    /// The learning-rate sweep: for each variant, its runs at every rate of <see cref="LearningRateSweep.Grid"/> around
    /// the rate the recipe gives it (that rate keeps the variant's usual folder, so plain runs are reused; the others
    /// go to <c>&lt;variant&gt;_lr&lt;rate&gt;/</c>), extended past an edge while the best rate sits on it. Writes
    /// lr_sweep.csv and lr_sweep.png, and returns the comparison of the variants each at its best rate, whose report also
    /// states the verdict at the recipe's rates. Choosing the best rate on the same seeds favours every variant a
    /// little (the minimum of noisy means is biased low), about equally; the seeds at the chosen rate are not fresh.
    /// </summary>
    ComparisonReport RunSweep(List<string> notes)
    {
        var points = new List<SweepPoint>();
        var atBest = new List<RunData>();
        var atRecipe = new List<RunData>();
        var lines = new List<string>();
        foreach (var (variant, model, training, stream, seeds) in _variants)
        {
            var tried = new Dictionary<double, List<RunData>>();
            var rates = LearningRateSweep.Grid(training.LearningRate, SweepPoints).ToList();
            int extensions = 0;
            double? next = null;
            while (true)
            {
                foreach (var rate in rates.Where(r => !tried.ContainsKey(r)).ToList())
                {
                    var folder = rate == training.LearningRate ? variant : $"{variant}_lr{LearningRateSweep.Format(rate)}";
                    tried[rate] = TrainSeeds(folder, variant, model, LearningRateSweep.At(training, rate), stream, seeds, notes, tolerateDivergence: true);
                }
                next = LearningRateSweep.Extension(tried.ToDictionary(kv => kv.Key, kv => Point(variant, kv.Key, kv.Value).Mean));
                if (next is null || extensions == SweepExtensions) break;
                rates.Add(next.Value);
                extensions++;
            }
            var variantPoints = tried.OrderBy(kv => kv.Key).Select(kv => Point(variant, kv.Key, kv.Value)).ToList();
            points.AddRange(variantPoints);
            var best = LearningRateSweep.Best(variantPoints.ToDictionary(p => p.LearningRate, p => p.Mean));
            atBest.AddRange(tried[best]);
            atRecipe.AddRange(tried[training.LearningRate]);
            for (int k = 0; k < seeds; k++) _paths[(variant, k)] = tried[best][k].Folder;
            lines.Add($"{variant}: best rate {LearningRateSweep.Format(best)} of {variantPoints.Count} tried " +
                      $"({LearningRateSweep.Format(variantPoints[0].LearningRate)} to {LearningRateSweep.Format(variantPoints[^1].LearningRate)}, " +
                      $"{seeds} seed{(seeds == 1 ? "" : "s")} each; the recipe's rate {LearningRateSweep.Format(training.LearningRate)})" +
                      (next is not null ? $"; still at the edge of the grid after {extensions} extension{(extensions == 1 ? "" : "s")}: the optimum may lie further out" : ""));
        }
        var sweepCsv = AtomicFile.WriteAllText(Path.Combine(Folder, "lr_sweep.csv"), LearningRateSweepReport.Csv(points));
        var sweepPng = Charts.Save(LearningRateSweepReport.Chart(points, [.. _variants.Select(v => v.Training.LearningRate)]), Path.Combine(Folder, "lr_sweep.png"));
        var recipeVerdict = VariantComparison.Of([.. atRecipe.Select(RunRow.Of)]);
        lines.Add($"At the recipe's learning rates: {recipeVerdict.Headline}");
        lines.Add("Each variant at its own best rate: the headline above (rates chosen on these same seeds, which favours every variant a little).");
        lines.Add($"Sweep table: {sweepCsv}");
        Runs = atBest;
        Sweep = points;
        return Comparison.Write(atBest, Folder, logAxes: false, notes, extras: new ComparisonExtras([sweepPng], [("Learning-rate sweep", lines)]));
    }

    // A run that did not complete (it diverged) has no final loss: NaN, so its rate never wins.
    static SweepPoint Point(string variant, double rate, IReadOnlyList<RunData> runs) =>
        new(variant, rate, [.. runs.Select(r => r.Result is { Complete: true } ? RunRow.Of(r).FinalValLoss ?? double.NaN : double.NaN)]);

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
