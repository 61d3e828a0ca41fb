using LMHarness.Experiments;
using LMHarness.Replay;
using LMHarness.Runs;

namespace LMHarness.Bench;

/// <summary>
/// Runs a published recipe end to end (nanoGPT's CPU recipe and its Llama-style twin) and prints the summary.
/// Usage: recipe nanogpt-cpu|nanogpt-cpu-replay|llama-cpu [run-dir] [text-path] [max-steps] [seed]. Ctrl-C checkpoints; running again resumes.
/// </summary>
public sealed class RecipeBench : IBench
{
    public string Name => "recipe";
    public string Description => "train a recipe (nanogpt-cpu, nanogpt-cpu-replay, llama-cpu) on TinyShakespeare chars and report val loss, wall time, ms/step";

    public void Run(string[] args)
    {
        var recipe = RunRecipes.Get(args.Length > 0 ? args[0] : "nanogpt-cpu");
        var runDir = args.Length > 1 ? args[1] : Path.Combine("runs", "recipes", recipe.Name, $"seed{recipe.Training.Seed}");
        var text = args.Length > 2 ? args[2] : Environment.GetEnvironmentVariable("LMHARNESS_TINYSHAKESPEARE") ?? FindText();
        if (args.Length > 4) recipe = recipe with { Training = recipe.Training with { Seed = long.Parse(args[4]) } };
        if (args.Length > 3 && int.Parse(args[3]) != recipe.Training.MaxSteps)
        {
            // A shorter smoke run of the same recipe (warm-up shrunk to fit).
            var steps = int.Parse(args[3]);
            recipe = recipe with { Training = recipe.Training with { MaxSteps = steps, WarmupSteps = Math.Min(recipe.Training.WarmupSteps, steps / 2), EvalInterval = Math.Min(recipe.Training.EvalInterval, steps) } };
        }
        var summary = RunRecipes.Run(recipe, text, runDir);
        Console.WriteLine($"{recipe.Name}: {summary}");
        if (recipe.Stream is NanoGptStream && recipe.Training.Seed == 1337 && recipe.Training.MaxSteps == 2000)
            CompareWithNanoGptLog(Path.Combine(runDir, "metrics.csv"));
        Console.WriteLine($"val loss {summary.FinalValLoss:F4}, train estimate {summary.FinalTrainEvalLoss:F4} " +
            "(nanoGPT's README: 1.88; its own log of this recipe at seed 1337: step 2000: train loss 1.7648, val loss 1.8857)");
    }

    // nanoGPT's log of its README CPU command (seed 1337): "step N: train loss A, val loss B" every 250 steps.
    static readonly (long Step, double Train, double Val)[] NanoGptLog =
    [
        (0, 4.1676, 4.1649), (250, 2.4293, 2.4447), (500, 2.2732, 2.3141), (750, 2.1338, 2.1905), (1000, 1.9714, 2.0528),
        (1250, 1.8756, 2.0089), (1500, 1.8557, 1.9225), (1750, 1.7790, 1.8921), (2000, 1.7648, 1.8857),
    ];

    static void CompareWithNanoGptLog(string metricsPath)
    {
        var ours = MetricsRow.Read(metricsPath).Where(r => r.ValLoss is not null).ToDictionary(r => r.Step);
        Console.WriteLine("step   nanoGPT train/val   LMHarness train/val   |diff| max");
        foreach (var (step, train, val) in NanoGptLog)
        {
            if (!ours.TryGetValue(step, out var r)) continue;
            var diff = Math.Max(Math.Abs(r.TrainEvalLoss!.Value - train), Math.Abs(r.ValLoss!.Value - val));
            Console.WriteLine($"{step,4}   {train:F4} / {val:F4}     {r.TrainEvalLoss:F4} / {r.ValLoss:F4}       {diff:F4}");
        }
    }

    static string FindText()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "shared", "data", "tinyshakespeare.txt");
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException("tinyshakespeare.txt not found: pass its path as the third argument or set LMHARNESS_TINYSHAKESPEARE.");
    }
}
