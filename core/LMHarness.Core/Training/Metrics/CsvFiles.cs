using CsvHelper;

namespace LMHarness.Training.Metrics;

/// <summary>Helpers shared by the run's CSV files.</summary>
internal static class CsvFiles
{
    /// <summary>Opens a CSV for appending, writing the header when the file is new (see <see cref="MetricsCsv(string,long)"/>).</summary>
    public static CsvWriter OpenAppend(string path, long keepUpToStep, string[] columns)
    {
        if (File.Exists(path))
        {
            if (keepUpToStep >= 0) TruncateAfterStep(path, keepUpToStep);
            else File.Delete(path);
        }
        var header = !File.Exists(path);
        var csv = CsvWriter.Create(new StreamWriter(path, append: true), new CsvWriterOptions(), false);
        if (header) { csv.WriteRecord(columns); csv.Flush(); }
        return csv;
    }

    /// <summary>Keeps the header and the rows whose first column (step) is &lt;= <paramref name="step"/>; rewrites via a temp file.</summary>
    public static void TruncateAfterStep(string path, long step)
    {
        var lines = File.ReadAllLines(path);
        var kept = lines.Take(1).Concat(lines.Skip(1).Where(l =>
            l.Length > 0 && long.TryParse(l.AsSpan(0, Math.Max(0, l.IndexOf(','))), out var s) && s <= step));
        var tmp = path + ".tmp";
        File.WriteAllLines(tmp, kept);
        File.Move(tmp, path, overwrite: true);
    }
}
