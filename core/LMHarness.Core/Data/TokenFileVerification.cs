namespace LMHarness.Data;

/// <summary>A token file whose bytes matched its sidecar's SHA-256: how many were hashed, in how long, and the digest.</summary>
public sealed record TokenFileVerification(string Path, long Bytes, double Seconds, string Sha256)
{
    /// <summary>Hashing speed in MB/s (10^6 bytes).</summary>
    public double MegabytesPerSecond => Bytes / 1e6 / Math.Max(Seconds, 1e-9);

    public override string ToString() => $"{Path}: {Bytes:N0} bytes match SHA-256 {Sha256} ({Seconds:F2} s, {MegabytesPerSecond:F0} MB/s)";
}
