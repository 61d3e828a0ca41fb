using LMHarness.Config;
using LMHarness.Model.Positions;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class RotaryTests
{
    private static float Score(RotaryEmbedding rope, Tensor q, Tensor k, long m, long n)
    {
        using var scope = NewDisposeScope();
        var (cq, sq) = rope.CosSin(m, 1, CPU, ScalarType.Float32);
        var (ck, sk) = rope.CosSin(n, 1, CPU, ScalarType.Float32);
        var qr = RotaryEmbedding.Apply(q, cq, sq);
        var kr = RotaryEmbedding.Apply(k, ck, sk);
        return (qr * kr).sum().item<float>();
    }

    public static IEnumerable<object?[]> Scalings() =>
    [
        [null],
        [new YarnScaling(4, 32)],
    ];

    [Theory]
    [MemberData(nameof(Scalings))]
    public void Scores_depend_only_on_the_relative_offset(YarnScaling? yarn)
    {
        var rope = new RotaryEmbedding(16, 10000, yarn);
        var g = new Generator(5);
        using var q = randn([1, 1, 1, 16], generator: g);
        using var k = randn([1, 1, 1, 16], generator: g);
        foreach (var (m, n) in new[] { (3L, 1L), (10L, 10L), (7L, 20L) })
        {
            float s = Score(rope, q, k, m, n);
            foreach (long shift in new[] { 1L, 17L, 500L })
                Score(rope, q, k, m + shift, n + shift).Should().BeApproximately(s, 2e-4f);
        }
        // ...and do depend on it.
        Math.Abs(Score(rope, q, k, 3, 1) - Score(rope, q, k, 9, 1)).Should().BeGreaterThan(1e-3f);
    }

    [Fact]
    public void Rotation_uses_the_rotate_half_convention()
    {
        // Position 1, dim 4, theta 10000: pairs (x0, x2) and (x1, x3) rotate by 1 and 0.01 rad.
        var rope = new RotaryEmbedding(4, 10000, null);
        using var x = tensor(new float[] { 1, 2, 3, 4 }).view(1, 1, 1, 4);
        var (cos, sin) = rope.CosSin(1, 1, CPU, ScalarType.Float32);
        using var y = RotaryEmbedding.Apply(x, cos, sin);
        var v = y.data<float>().ToArray();
        double c0 = Math.Cos(1), s0 = Math.Sin(1), c1 = Math.Cos(0.01), s1 = Math.Sin(0.01);
        v[0].Should().BeApproximately((float)(1 * c0 - 3 * s0), 1e-6f);
        v[1].Should().BeApproximately((float)(2 * c1 - 4 * s1), 1e-6f);
        v[2].Should().BeApproximately((float)(3 * c0 + 1 * s0), 1e-6f);
        v[3].Should().BeApproximately((float)(4 * c1 + 2 * s1), 1e-6f);
    }

    [Fact]
    public void Base_theta_is_configurable()
    {
        new RotaryEmbedding(8, 10000, null).Frequencies.Should().Equal(1f, (float)Math.Pow(10000, -0.25), (float)Math.Pow(10000, -0.5), (float)Math.Pow(10000, -0.75));
        new RotaryEmbedding(8, 500000, null).Frequencies[3].Should().Be((float)Math.Pow(500000, -0.75));
    }

    [Fact]
    public void YaRN_keeps_high_frequencies_interpolates_low_ones_and_scales_by_mscale()
    {
        // dim 64, theta 1e4, original context 1024, factor 4: beta_fast = 32 rotations -> dim index floor(5.66) = 5,
        // beta_slow = 1 rotation -> ceil(17.70) = 18 (Peng et al. 2023, eq. 17-18; HF _compute_yarn_parameters).
        var plain = new RotaryEmbedding(64, 10000, null).Frequencies;
        var yarn = new RotaryEmbedding(64, 10000, new YarnScaling(4, 1024));
        var f = yarn.Frequencies;
        for (int i = 0; i <= 5; i++) f[i].Should().BeApproximately(plain[i], 1e-9f, $"index {i} turns >= 32 times: extrapolated");
        for (int i = 18; i < 32; i++) f[i].Should().BeApproximately(plain[i] / 4, 1e-9f, $"index {i} turns < 1 time: interpolated");
        double ramp = (11 - 5) / 13.0; // index 11 sits 6/13 along the ramp
        f[11].Should().BeApproximately((float)(plain[11] / 4 * ramp + plain[11] * (1 - ramp)), 1e-7f);
        yarn.AttentionScaling.Should().BeApproximately(0.1 * Math.Log(4) + 1, 1e-12);
        var (cos, _) = yarn.CosSin(0, 1, CPU, ScalarType.Float32);
        cos[0, 0].item<float>().Should().BeApproximately((float)(0.1 * Math.Log(4) + 1), 1e-6f);
    }
}
