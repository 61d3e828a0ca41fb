namespace LMHarness.Training;

/// <summary>Writes a file through a temp name and a rename, so a reader never sees it half-written.</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }
}
