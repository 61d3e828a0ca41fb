namespace LMHarness.Tests.Integrity;

/// <summary>Seeded damage to a file's bytes: truncations and byte flips, the two things disks, copies and kills do.</summary>
static class Damage
{
    /// <summary>One damaged copy and what was done to it.</summary>
    public sealed record Case(string What, byte[] Bytes, bool Truncated);

    /// <summary>
    /// <paramref name="count"/> damaged copies of <paramref name="original"/>: every other one truncated to a random
    /// length in [0, n), the rest with 1 to 3 random bytes XORed with a random non-zero value (half of them single-bit
    /// flips). Every case differs from the original.
    /// </summary>
    public static IEnumerable<Case> Cases(byte[] original, int count, int seed)
    {
        var rng = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            if (i % 2 == 0)
            {
                var n = rng.Next(original.Length);
                yield return new Case($"truncated to {n} of {original.Length} bytes", original[..n], true);
                continue;
            }
            var bytes = (byte[])original.Clone();
            var flips = 1 + rng.Next(3);
            var where = new List<string>();
            for (var f = 0; f < flips; f++)
            {
                var at = rng.Next(bytes.Length);
                var mask = rng.Next(2) == 0 ? (byte)(1 << rng.Next(8)) : (byte)rng.Next(1, 256);
                bytes[at] ^= mask;
                where.Add($"byte {at} ^ 0x{mask:x2}");
            }
            if (bytes.AsSpan().SequenceEqual(original)) { i--; continue; } // two flips cancelled out: not damage
            yield return new Case(string.Join(", ", where), bytes, false);
        }
    }
}
