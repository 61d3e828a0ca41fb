namespace LMHarness.IO;

/// <summary>Where LMHarness keeps files it can rebuild: the patched native wrapper, downloaded and tokenized corpora.</summary>
public static class CacheFolder
{
    /// <summary><c>$LMHARNESS_CACHE</c>, else <c>$XDG_CACHE_HOME/lmharness</c>, else <c>~/.cache/lmharness</c>.</summary>
    public static string Root
    {
        get
        {
            var explicitRoot = Environment.GetEnvironmentVariable("LMHARNESS_CACHE");
            if (!string.IsNullOrEmpty(explicitRoot)) return explicitRoot;
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return System.IO.Path.Combine(string.IsNullOrEmpty(xdg) ? System.IO.Path.Combine(home, ".cache") : xdg, "lmharness");
        }
    }

    /// <summary><see cref="Root"/>/<paramref name="parts"/>.</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);
}
