namespace LMHarness.Training;

/// <summary>
/// The process's resident memory as the kernel counts it: the resident set size now, and its high-water mark (the
/// largest it has been, VmHWM), which no sampling can miss. On a CPU run the peak is the run's memory; on a GPU it is
/// the host side only (see <see cref="GpuInfo"/> for the device).
/// </summary>
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

    /// <summary>
    /// The largest resident set size this process has had, in MB: VmHWM from /proc/self/status on Linux (what
    /// <c>/usr/bin/time -v</c> reports as maximum resident set size), else the peak working set.
    /// </summary>
    public static double PeakMegabytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0]) / 1024.0; // "VmHWM:   123456 kB"
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.PeakWorkingSet64 / (1024.0 * 1024.0);
    }

    /// <summary>
    /// Starts a new high-water mark at the current resident set size (Linux: writes 5 to /proc/self/clear_refs), so a
    /// benchmark can measure the peak of each variant in one process. Returns false where the kernel does not allow it.
    /// </summary>
    public static bool ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
