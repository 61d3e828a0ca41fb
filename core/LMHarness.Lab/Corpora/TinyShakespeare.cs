using LMHarness.Data;
using LMHarness.IO;

namespace LMHarness.Corpora;

/// <summary>
/// TinyShakespeare (Karpathy 2015, char-rnn): 1,115,394 characters of Shakespeare's plays, the corpus of
/// nanoGPT's shakespeare_char. Found, in order: $LMHARNESS_TINYSHAKESPEARE; <c>shared/data/tinyshakespeare.txt</c>
/// beside the checkout (the folder holding LMHarness.sln, or one above it: the repository's test-data
/// convention, so tests and CI never download); the cache copy
/// (<see cref="CacheFolder.Root"/>/data/tinyshakespeare.txt); a download from <see cref="Url"/> into the
/// cache (temp name + rename). Never committed to the repository.
/// </summary>
public static class TinyShakespeare
{
    public const string Url = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";
    public const string EnvVar = "LMHARNESS_TINYSHAKESPEARE";
    public const long Length = 1_115_394;

    /// <summary>The cache copy's path (may not exist yet).</summary>
    public static string CachePath => Path.Combine(CacheFolder.Root, "data", "tinyshakespeare.txt");

    /// <summary>The file's path: env var, cache, or downloaded now; throws with both remedies when none works.</summary>
    public static string Locate()
    {
        var env = Environment.GetEnvironmentVariable(EnvVar);
        if (!string.IsNullOrEmpty(env))
        {
            if (File.Exists(env)) return Path.GetFullPath(env);
            throw new FileNotFoundException($"{EnvVar} is set to {env}, which does not exist: point it at tinyshakespeare.txt or unset it.", env);
        }
        var beside = BesideCheckout();
        if (beside is not null) return beside;
        if (File.Exists(CachePath)) return CachePath;
        string reason;
        try
        {
            Download(CachePath);
            return CachePath;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or InvalidDataException)
        {
            reason = e.Message;
        }
        throw new FileNotFoundException(
            $"TinyShakespeare is not in the cache ({CachePath}) and downloading {Url} failed ({reason}). " +
            $"Offline? Copy the file there, or set {EnvVar} to a copy, or pass its path.", CachePath);
    }

    /// <summary>shared/data/tinyshakespeare.txt above the LMHarness checkout we run from (working dir or app dir), if any.</summary>
    static string? BesideCheckout()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            var dir = new DirectoryInfo(start);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LMHarness.sln"))) dir = dir.Parent;
            for (var up = dir?.Parent; up is not null; up = up.Parent)
            {
                var path = Path.Combine(up.FullName, "shared", "data", "tinyshakespeare.txt");
                if (File.Exists(path)) return path;
            }
        }
        return null;
    }

    /// <summary>TinyShakespeare as a corpus source (one document).</summary>
    public static TextFileSource Source() => new(Locate());

    /// <summary>A specific copy as a corpus source.</summary>
    public static TextFileSource Source(string path) => new(path);

    static void Download(string target)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var bytes = http.GetByteArrayAsync(Url).GetAwaiter().GetResult();
        if (bytes.Length != Length)
            throw new InvalidDataException($"{Url} returned {bytes.Length} bytes, not the {Length} of TinyShakespeare");
        AtomicFile.Write(target, s => s.Write(bytes));
    }
}
