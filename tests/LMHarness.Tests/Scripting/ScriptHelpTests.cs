using LMHarness.Experiments;
using LMHarness.Scripting;

namespace LMHarness.Tests.Scripting;

/// <summary>
/// `--help` in every script of scripts/ and experiments/: it prints the usage and every knob with its default, then ends
/// the script before any work (no data prepared, nothing trained). Also a compile check of every script under the
/// repository's host. Before ScriptArgs grew --help, it was "unknown option" (or, in sample/export/import/trajectory,
/// a model path).
/// </summary>
[Collection(UpstreamCollection.Name)] // Console.SetOut and ScriptArgs.Exit are process-wide
public sealed class ScriptHelpTests
{
    static readonly Dictionary<string, (string Knob, string Default)> Known = new()
    {
        ["scripts/train.csx"] = ("max_steps", "500"),
        ["scripts/sample.csx"] = ("temperature", "0.8"),
        ["scripts/import.csx"] = ("max", "60"),
        ["scripts/export.csx"] = ("dtype", "f32"),
        ["scripts/trajectory.csx"] = ("max", "40"),
        ["scripts/compare.csx"] = ("log", "false"),
        ["scripts/inspect.csx"] = ("memory", "24GB"),
        ["scripts/prepare.csx"] = ("val", "0.1"),
        ["experiments/gqa_vs_mha.csx"] = ("gqa_kv_heads", "2"),
        ["experiments/nanogpt_cpu.csx"] = ("steps", "300"),
        ["experiments/size_vs_tokens.csx"] = ("widths", "64,96,160"),
        ["experiments/gqa_vs_mha_lr.csx"] = ("lr_sweep", "true"), // the recipe's constructor default
        ["experiments/optimizers.csx"] = ("seeds", "3"),
        ["experiments/scaling_law.csx"] = ("widths", "12,16,24,32,48,64,96,128"),
    };

    [Fact]
    public void Every_script_prints_its_knobs_with_defaults_for_help_and_does_nothing_else()
    {
        var scripts = Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "scripts"), "*.csx")
            .Concat(Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "experiments"), "*.csx"))
            .Select(p => Path.GetRelativePath(RepoPaths.Root, p)).Order().ToList();
        scripts.Should().HaveCountGreaterThanOrEqualTo(15);
        using var runs = new TempDir();
        var original = (ScriptArgs.Exit, Console.Out);
        ScriptArgs.Exit = code => throw new OperationCanceledException($"--help ended the script with exit code {code}");
        try
        {
            foreach (var script in scripts)
            {
                var output = new StringWriter();
                Console.SetOut(output);
                var errors = new StringWriter();
                string[] args = script.StartsWith("experiments/", StringComparison.Ordinal) ? ["--help", "--out", runs.Path] : ["--help"];
                ScriptRunner.Run(Path.Combine(RepoPaths.Root, script), args, errors);
                Console.SetOut(original.Out);

                var text = output.ToString();
                errors.ToString().Should().Contain("--help ended the script with exit code 0", $"{script} ends at its knobs; stdout:\n{text}");
                text.Should().Contain("usage: ", script).And.MatchRegex(@"(?m)^  --\w+ +\S", $"{script} lists knobs with defaults");
                if (Known.TryGetValue(script, out var knob))
                    text.Should().MatchRegex($@"(?m)^  --{knob.Knob} +{System.Text.RegularExpressions.Regex.Escape(knob.Default)}(\s|$)", script);
            }
        }
        finally
        {
            (ScriptArgs.Exit, _) = original;
            Console.SetOut(original.Out);
        }
        Directory.EnumerateFileSystemEntries(runs.Path).Should().BeEmpty("--help prepares no data and trains nothing");
    }
}
