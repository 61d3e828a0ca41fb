using LMHarness.Analysis;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Tests.Analysis;

public class PcaTests
{
    [Fact]
    public void Recovers_the_axes_and_variances_of_a_known_matrix()
    {
        // Points spread along a = (0.8, 0.6) with coordinates -3..3 and along b = (0.6, -0.8) with +-1, offset by (5, -2).
        var rows = new List<double[]>();
        var a = new[] { 0.8, 0.6 };
        var b = new[] { 0.6, -0.8 };
        foreach (var t in new[] { -3.0, -1, 1, 3 })
            foreach (var u in new[] { -1.0, 1 })
                rows.Add([5 + t * a[0] + u * b[0], -2 + t * a[1] + u * b[1]]);
        var x = torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Count, 2]);

        using var pca = Pca.Fit(x, 2);
        pca.Mean.data<double>().ToArray().Should().Equal([5.0, -2.0], (p, q) => Math.Abs(p - q) < 1e-12);
        // Var along a: sum(t^2) * 2 / 7 = 20 * 2 / 7; along b: 8 / 7.
        pca.ExplainedVariance.Should().Equal([40.0 / 7, 8.0 / 7], (p, q) => Math.Abs(p - q) < 1e-10);
        pca.ExplainedVarianceRatio.Should().Equal([40.0 / 48, 8.0 / 48], (p, q) => Math.Abs(p - q) < 1e-12);
        // Sign convention: the largest |loading| of each axis is positive, so b comes out as -b = (-0.6, 0.8).
        pca.Components[0].data<double>().ToArray().Should().Equal(a, (p, q) => Math.Abs(p - q) < 1e-10);
        pca.Components[1].data<double>().ToArray().Should().Equal([-0.6, 0.8], (p, q) => Math.Abs(p - q) < 1e-10);

        var z = pca.Transform(x);
        z[0].data<double>().ToArray().Should().Equal([-3.0, 1.0], (p, q) => Math.Abs(p - q) < 1e-10);
        z[7].data<double>().ToArray().Should().Equal([3.0, -1.0], (p, q) => Math.Abs(p - q) < 1e-10);
    }

    [Fact]
    public void Components_are_orthonormal_and_projection_preserves_variance()
    {
        torch.manual_seed(0);
        var x = torch.randn(200, 6) * torch.tensor(new[] { 5f, 3f, 2f, 1f, 0.5f, 0.1f });
        using var pca = Pca.Fit(x, 3);
        var gram = pca.Components.matmul(pca.Components.t());
        (gram - torch.eye(3, dtype: ScalarType.Float64)).abs().max().item<double>().Should().BeLessThan(1e-10);
        var z = pca.Transform(x);
        var varZ = z.var(0).data<double>().ToArray();
        varZ.Should().Equal(pca.ExplainedVariance, (p, q) => Math.Abs(p - q) < 1e-8 * Math.Max(1, q));
        pca.ExplainedVariance.Should().BeInDescendingOrder();
    }

    [Fact]
    public void Bad_shapes_are_rejected()
    {
        var act = () => Pca.Fit(torch.randn(5, 3), 4);
        act.Should().Throw<ArgumentException>().WithMessage("*components must be in [1, min(N, D) = 3]*");
        var one = () => Pca.Fit(torch.randn(1, 3), 1);
        one.Should().Throw<ArgumentException>().WithMessage("*at least 2 samples*");
    }
}
