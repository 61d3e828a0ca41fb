using System.Globalization;

namespace LMHarness;

/// <summary>How many bytes a new allocation may take, and where the figure comes from (quoted in refusals).</summary>
public sealed record MemoryBudget(double Bytes, string Basis)
{
    /// <summary>
    /// Throws <see cref="InsufficientMemoryException"/> before anything is allocated when <paramref name="bytes"/> exceed
    /// the budget: "<paramref name="what"/> needs 12.0 GB (<paramref name="detail"/>) but ... has 3.1 GB available
    /// (basis): <paramref name="fix"/>."
    /// </summary>
    public void Ensure(double bytes, string what, string detail, string fix)
    {
        if (bytes <= Bytes) return;
        throw new InsufficientMemoryException($"{what} needs {MachineMemory.Text(bytes)} ({detail}) but this process may use only {MachineMemory.Text(Bytes)} more ({Basis}): {fix}.");
    }
}

/// <summary>
/// The memory this process may still allocate before the machine runs out: the stated limit
/// <see cref="LimitVariable"/> (MB) when set; else the kernel's MemAvailable (memory free or reclaimable without
/// swapping; Linux), within the cgroup's limit when the process runs under one; else what the .NET runtime reports.
/// Loaders and the trainer compare what they are about to allocate with it and refuse with the figure, because the
/// alternative is the kernel's out-of-memory killer: no message, and on a shared machine other people's processes die too.
/// </summary>
public static class MachineMemory
{
    /// <summary>Environment variable stating a limit in MB (e.g. 4096) that replaces the machine's figure.</summary>
    public const string LimitVariable = "LMH_MEMORY_LIMIT_MB";

    /// <summary>The budget now: the stated limit, else what the machine has available.</summary>
    public static MemoryBudget Available()
    {
        var stated = Environment.GetEnvironmentVariable(LimitVariable);
        if (!string.IsNullOrWhiteSpace(stated))
        {
            if (!double.TryParse(stated, NumberStyles.Float, CultureInfo.InvariantCulture, out var mb) || !(mb >= 0) || double.IsInfinity(mb))
                throw new ArgumentException($"{LimitVariable}={stated} is not a number of MB: set it to e.g. 4096, or unset it to use the machine's available memory.");
            return new MemoryBudget(mb * (1 << 20), $"{LimitVariable}={stated}");
        }
        var available = MemAvailable() is { } m ? new MemoryBudget(m, "MemAvailable in /proc/meminfo")
            : new MemoryBudget(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes - Environment.WorkingSet, "the .NET runtime's available memory less this process's working set");
        return CgroupRoom() is { } room && room < available.Bytes ? new MemoryBudget(room, "the cgroup's memory.max less its memory.current") : available;
    }

    /// <summary>A size for messages: 125 KB, 1.6 MB, 350 MB, 12.0 GB, 4.4 TB, 1.2e+18 bytes.</summary>
    public static string Text(double bytes) => bytes switch
    {
        < 1 << 20 => $"{(bytes / 1024).ToString("N0", CultureInfo.InvariantCulture)} KB",
        < 10 << 20 => $"{(bytes / (1 << 20)).ToString("N1", CultureInfo.InvariantCulture)} MB",
        < 1 << 30 => $"{(bytes / (1 << 20)).ToString("N0", CultureInfo.InvariantCulture)} MB",
        < 1L << 40 => $"{(bytes / (1 << 30)).ToString("N1", CultureInfo.InvariantCulture)} GB",
        < 1e15 => $"{(bytes / (1L << 40)).ToString("N1", CultureInfo.InvariantCulture)} TB",
        _ => $"{bytes.ToString("0.0e+0", CultureInfo.InvariantCulture)} bytes",
    };

    static double? MemAvailable()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line["MemAvailable:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024.0; // "MemAvailable: 123 kB"
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>cgroup v2's memory.max less memory.current, or null when there is no limit (or no cgroup v2).</summary>
    static double? CgroupRoom()
    {
        try
        {
            var max = File.ReadAllText("/sys/fs/cgroup/memory.max").Trim();
            if (max == "max") return null;
            return double.Parse(max, CultureInfo.InvariantCulture) - double.Parse(File.ReadAllText("/sys/fs/cgroup/memory.current").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }
}
