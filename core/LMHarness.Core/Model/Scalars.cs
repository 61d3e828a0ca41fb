using TorchSharp;

namespace LMHarness.Model;

/// <summary>
/// Native Scalars shared by every operator that needs them. TorchSharp turns each number an operator is given into a
/// native <c>c10::Scalar</c> (and passes a fresh Scalar 1 as the alpha of <c>a + b</c>; <c>a - b</c> takes none) that only its
/// finalizer frees: a few per block per step was enough to pin the C heap between a step's large buffers (RSS +15 %
/// over 300 steps with the collector kept off). These are made once and live with the process; a number that
/// depends on the config is made with <c>using Scalar s = value;</c> where it is used.
/// </summary>
public static class Scalars
{
    /// <summary>1: the alpha of a sum or difference (<c>a.add(b, One)</c> is <c>a + b</c>).</summary>
    public static readonly Scalar One = 1;

    /// <summary>2: the exponent of a square (TorchSharp's <c>square()</c> is <c>pow(2)</c> with a Scalar of its own).</summary>
    public static readonly Scalar Two = 2;

    /// <summary>-inf, for masked attention scores.</summary>
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity;
}
