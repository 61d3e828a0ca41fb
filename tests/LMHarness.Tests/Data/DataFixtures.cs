using LMHarness.Data;
using LMHarness.Tokenizers;
using LMHarness.Corpora;

namespace LMHarness.Tests.Data;

/// <summary>Temp folders and the shared TinyShakespeare text for data tests (no network).</summary>
static class DataFixtures
{
    /// <summary>$LMHARNESS_TINYSHAKESPEARE, else ../shared/data/tinyshakespeare.txt beside the repo root.</summary>
    public static string TinyShakespearePath()
    {
        var env = Environment.GetEnvironmentVariable("LMHARNESS_TINYSHAKESPEARE");
        if (!string.IsNullOrEmpty(env) && File.Exists(env)) return env;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LMHarness.sln"))) dir = dir.Parent;
        // ../shared/data beside the repo root; a worktree nested deeper finds it further up.
        for (var up = dir?.Parent; up is not null; up = up.Parent)
        {
            var path = Path.Combine(up.FullName, "shared", "data", "tinyshakespeare.txt");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException("TinyShakespeare not found: set LMHARNESS_TINYSHAKESPEARE or place it at ../shared/data/tinyshakespeare.txt beside the repo.");
    }

    static string? _shakespeare;
    public static string TinyShakespeare => _shakespeare ??= File.ReadAllText(TinyShakespearePath());

    /// <summary>Writes ids straight to a token file (bypassing tokenization) and returns its path.</summary>
    public static string WriteTokenFile(string dir, string name, TokenizerIdentity tokenizer, IReadOnlyList<int> ids, double valFraction)
    {
        var path = Path.Combine(dir, name);
        using var writer = new TokenFileWriter(path, tokenizer);
        writer.Write(ids.ToArray());
        writer.Complete(valFraction, 1, []);
        return path;
    }
}
