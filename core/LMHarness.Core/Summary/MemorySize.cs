using System.Globalization;
using System.Text.RegularExpressions;

namespace LMHarness.Summary;

/// <summary>
/// Memory sizes as people write them: "24GB", "24 GiB", "512MB", "1.5TB", or a bare number of GB. GB and GiB both mean
/// 2^30 bytes (MB 2^20, TB 2^40), as GPU memory is quoted (a "24 GB" card holds 24 GiB) and as the harness reports
/// memory (peak_rss_mb is in 2^20 bytes).
/// </summary>
public static partial class MemorySize
{
    /// <summary>Bytes of <paramref name="text"/>; throws naming the accepted forms when it is not a size.</summary>
    public static long Parse(string text)
    {
        var m = Size().Match(text.Trim());
        if (!m.Success || !double.TryParse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0)
            throw new ArgumentException($"'{text}' is not a memory size: write e.g. 24GB, 24GiB, 512MB or 1.5TB (GB = GiB = 2^30 bytes; a bare number is GB)");
        int shift = m.Groups[2].Value.ToUpperInvariant() switch
        {
            "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "T" or "TB" or "TIB" => 40,
            _ => 30, // "", G, GB, GiB
        };
        return (long)Math.Round(value * (1L << shift));
    }

    /// <summary>"24 GB (24,576 MB)" style: GB with two decimals and MB in full.</summary>
    public static string Describe(long bytes) => string.Create(CultureInfo.InvariantCulture,
        $"{bytes / (double)(1L << 30):0.##} GB ({bytes / (double)(1L << 20):N0} MB)");

    [GeneratedRegex(@"^([0-9]*\.?[0-9]+)\s*(B|K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)?$", RegexOptions.IgnoreCase)]
    private static partial Regex Size();
}
