namespace LMHarness.Training;

/// <summary>The process's resident set size: what the operating system holds in RAM for it.</summary>
public static class ResidentMemory
{
    /// <summary>Resident set size in MB (from /proc on Linux, the working set elsewhere).</summary>
    public static double Megabytes()
    {
        try
        {
            // /proc/self/statm: size resident shared ... in pages; the cheapest exact read on Linux.
            var parts = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(parts[1]) * Environment.SystemPageSize / (1024.0 * 1024.0);
        }
        catch (IOException) { return Environment.WorkingSet / (1024.0 * 1024.0); }
        catch (UnauthorizedAccessException) { return Environment.WorkingSet / (1024.0 * 1024.0); }
    }
}
