// Compare any set of run folders: overlaid plots, comparison.csv/.md, statistics and report.html.
//   dotnet script scripts/compare.csx -- runs/gqa_vs_mha/mha/seed0 runs/gqa_vs_mha/mqa/seed0 --out runs/cmp
//   dotnet script scripts/compare.csx -- runs/gqa_vs_mha              (a folder of runs: every run below it)
// Variant = the folder above seed<k>; seeds of a variant are averaged (line) with a min-max band, and compared with
// 95% t-intervals and Welch's test against the baseline (--baseline NAME, default the first variant). Runs with
// different tokenizers are ranked by bits per byte only. Open report.html for everything on one page.
#load "../lmharness.csx"
using LMHarness.Experiments;
using LMHarness.Reports;
using LMHarness.Runs;

var a = new ScriptArgs(Args);
var paths = a.Rest("runs", "run folders, or folders holding runs (e.g. runs/gqa_vs_mha)");
string output = a.Get("out", Path.Combine(Experiment.RepoRoot(), "runs", "compare"), "where the plots, comparison.csv/.md and report.html go");
bool log = a.Get("log", false, "loss vs tokens on log-log axes");
// No `string?`: scripts have no #nullable context, and upstream dotnet-script refuses the annotation there (CS8632).
string baseline = a.Get<string>("baseline", null, "the variant the others are compared against (default: the first)");
a.EnsureAllUsed("scripts/compare.csx");

// A folder with metrics.csv is a run; any other folder contributes every run below it.
var folders = paths.SelectMany(p => File.Exists(Path.Combine(p, "metrics.csv"))
        ? [p]
        : Directory.EnumerateFiles(p, "metrics.csv", SearchOption.AllDirectories).Select(Path.GetDirectoryName).Order().ToArray())
    .ToList();
var report = Comparison.Write(folders.Select(RunData.Load).ToList(), output, log, baseline: baseline);
Console.WriteLine(File.ReadAllText(report.MarkdownPath));
Console.WriteLine(report);
