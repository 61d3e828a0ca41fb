using LMHarness.Training;
using LMHarness.Training.Optimizers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using LMHarness.Config;

namespace LMHarness.Tests.Training;

/// <summary>Each optimizer against a step computed by hand (scalar double arithmetic) on small tensors.</summary>
public class OptimizerTests
{
    static Parameter P(double[] v, params long[] shape) =>
        new(torch.tensor(v.Select(x => (float)x).ToArray(), dtype: ScalarType.Float32).reshape(shape));

    static void SetGrad(Parameter p, double[] g)
    {
        using var _ = torch.no_grad();
        var t = torch.tensor(g.Select(x => (float)x).ToArray()).reshape(p.shape);
        if (p.grad is null) p.grad = t; else p.grad.copy_(t);
    }

    static double[] Values(Tensor t) => t.detach().to(ScalarType.Float64).data<double>().ToArray();

    [Fact]
    public void Parameter_groups_decay_only_tensors_with_two_or_more_dims()
    {
        var m = nn.Sequential(("fc", nn.Linear(3, 4)), ("ln", nn.LayerNorm(4)), ("embed", nn.Embedding(5, 4)));
        var g = ParameterGroups.Split(m);
        g.Decay.Select(x => x.Name).Should().BeEquivalentTo(["fc.weight", "embed.weight"]);
        g.NoDecay.Select(x => x.Name).Should().BeEquivalentTo(["fc.bias", "ln.weight", "ln.bias"]);
        g.Hidden.Select(x => x.Name).Should().BeEquivalentTo(["fc.weight"]); // embeddings go to AdamW under Muon
        g.WithoutHidden().Decay.Select(x => x.Name).Should().BeEquivalentTo(["embed.weight"]);
    }

    [Fact]
    public void AdamW_two_steps_match_hand_computation_with_decay_on_matrices_only()
    {
        double lr = 0.1, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
        double[] w0 = [1, 2, 3, 4], b0 = [0.5, -0.5];
        double[][] gw = [[0.1, -0.2, 0.3, 0.4], [-0.3, 0.1, 0.05, 0.2]];
        double[][] gb = [[2, -1], [0.5, 0.25]];
        var w = P(w0, 2, 2); var b = P(b0, 2);
        using var opt = new AdamWOptimizer(new ParameterGroups([("w", w)], [("b", b)]), lr, b1, b2, eps, wd);
        // The optimizer runs at lr * factor; factor 0.5 on step 2 checks the schedule hook.
        double[] factors = [1.0, 0.5];

        double[] Hand(double[] p, double[][] grads, double decay)
        {
            var x = (double[])p.Clone(); var m = new double[x.Length]; var v = new double[x.Length];
            for (var t = 1; t <= 2; t++)
            {
                var a = lr * factors[t - 1];
                for (var i = 0; i < x.Length; i++)
                {
                    var g = grads[t - 1][i];
                    x[i] *= 1 - a * decay;
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    x[i] -= a * (m[i] / (1 - Math.Pow(b1, t))) / (Math.Sqrt(v[i] / (1 - Math.Pow(b2, t))) + eps);
                }
            }
            return x;
        }

        for (var t = 0; t < 2; t++) { SetGrad(w, gw[t]); SetGrad(b, gb[t]); opt.Step(factors[t]); }
        Values(w).Should().Equal(Hand(w0, gw, wd), (x, y) => Math.Abs(x - y) < 1e-6);
        Values(b).Should().Equal(Hand(b0, gb, 0), (x, y) => Math.Abs(x - y) < 1e-6);
    }

    // Reference Newton-Schulz quintic in plain doubles: X = G/||G||, 5 x (X = aX + (bA + cA^2)X, A = XX^T), on the wide side.
    static double[,] HandNewtonSchulz(double[,] g)
    {
        int r = g.GetLength(0), c = g.GetLength(1);
        var tall = r > c;
        var x = tall ? T(g) : (double[,])g.Clone();
        var norm = Math.Sqrt(x.Cast<double>().Sum(v => v * v)) + 1e-7;
        x = Scale(x, 1 / norm);
        for (var s = 0; s < 5; s++)
        {
            var a = Mul(x, T(x));
            var bm = Add(Scale(a, NewtonSchulz.B), Scale(Mul(a, a), NewtonSchulz.C));
            x = Add(Scale(x, NewtonSchulz.A), Mul(bm, x));
        }
        return tall ? T(x) : x;

        static double[,] T(double[,] m) { var o = new double[m.GetLength(1), m.GetLength(0)]; for (var i = 0; i < m.GetLength(0); i++) for (var j = 0; j < m.GetLength(1); j++) o[j, i] = m[i, j]; return o; }
        static double[,] Scale(double[,] m, double k) { var o = (double[,])m.Clone(); for (var i = 0; i < o.GetLength(0); i++) for (var j = 0; j < o.GetLength(1); j++) o[i, j] *= k; return o; }
        static double[,] Add(double[,] p, double[,] q) { var o = (double[,])p.Clone(); for (var i = 0; i < o.GetLength(0); i++) for (var j = 0; j < o.GetLength(1); j++) o[i, j] += q[i, j]; return o; }
        static double[,] Mul(double[,] p, double[,] q)
        {
            var o = new double[p.GetLength(0), q.GetLength(1)];
            for (var i = 0; i < p.GetLength(0); i++) for (var j = 0; j < q.GetLength(1); j++) for (var k = 0; k < p.GetLength(1); k++) o[i, j] += p[i, k] * q[k, j];
            return o;
        }
    }

    [Fact]
    public void Newton_Schulz_matches_hand_iteration_and_flattens_singular_values()
    {
        double[] g = [0.3, -1.2, 0.5, 2.0, 0.1, -0.7];
        var gm = new double[3, 2];
        for (var i = 0; i < 6; i++) gm[i / 2, i % 2] = g[i];
        var expected = HandNewtonSchulz(gm).Cast<double>().ToArray();
        using var o = NewtonSchulz.Orthogonalize(torch.tensor(g.Select(x => (float)x).ToArray()).reshape(3, 2));
        Values(o).Should().Equal(expected, (x, y) => Math.Abs(x - y) < 1e-5);
        // Singular values land near 1 (the tuned quintic does not converge exactly: roughly 0.7..1.2).
        using var sv = torch.linalg.svdvals(o);
        Values(sv).Should().OnlyContain(s => s > 0.6 && s < 1.25);
    }

    [Fact]
    public void Muon_step_matches_hand_computation_and_sends_embeddings_and_biases_to_AdamW()
    {
        double lr = 0.02, mom = 0.95, wd = 0.1, adamLr = 0.01;
        double[] w0 = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], e0 = [1, -1], b0 = [0.25];
        double[][] gw = [[0.3, -1.2, 0.5, 2.0, 0.1, -0.7], [1.0, 0.2, -0.4, 0.3, 0.9, -0.1]];
        var w = P(w0, 3, 2); var e = P(e0, 1, 2); var b = P(b0, 1);
        var groups = new ParameterGroups([("model.layers.0.mlp.up_proj.weight", w), ("model.embed_tokens.weight", e)], [("model.layers.0.mlp.up_proj.bias", b)]);
        groups.Hidden.Should().ContainSingle().Which.Name.Should().Be("model.layers.0.mlp.up_proj.weight");
        using var opt = new MuonOptimizer(groups, lr, mom, true, wd, adamLr, 0.9, 0.99, 1e-8);

        var x = (double[])w0.Clone(); var m = new double[6];
        for (var t = 0; t < 2; t++)
        {
            SetGrad(w, gw[t]); SetGrad(e, [0.5, 0.5]); SetGrad(b, [1.0]);
            opt.Step(1.0);
            var u = new double[3, 2];
            for (var i = 0; i < 6; i++)
            {
                m[i] = mom * m[i] + (1 - mom) * gw[t][i];                 // momentum.lerp_(g, 1 - beta)
                u[i / 2, i % 2] = (1 - mom) * gw[t][i] + mom * m[i];      // Nesterov: g.lerp(m, beta)
            }
            var o = HandNewtonSchulz(u);
            for (var i = 0; i < 6; i++) x[i] = x[i] * (1 - lr * wd) - lr * Math.Sqrt(3.0 / 2.0) * o[i / 2, i % 2];
        }
        Values(w).Should().Equal(x, (p, q) => Math.Abs(p - q) < 1e-5);
        // AdamW handled the rest: with a constant gradient, each step moves by lr * sign(g) (plus decay on the 2-D embedding).
        var eHand = e0.Select(v => { for (var t = 0; t < 2; t++) v = v * (1 - adamLr * wd) - adamLr; return v; });
        Values(e).Should().Equal(eHand, (p, q) => Math.Abs(p - q) < 1e-6);
        Values(b).Should().Equal([0.25 - 2 * adamLr], (p, q) => Math.Abs(p - q) < 1e-6);
    }

    [Fact]
    public void AdEMAMix_three_steps_match_hand_computation_with_alpha_and_beta3_schedules()
    {
        double lr = 0.05, b1 = 0.9, b2 = 0.999, b3 = 0.999, alpha = 4, eps = 1e-8, wd = 0.1;
        var warmup = 4;
        AdEMAMixOptimizer.AlphaAt(2, alpha, warmup).Should().Be(2.0);
        AdEMAMixOptimizer.AlphaAt(9, alpha, warmup).Should().Be(4.0);
        AdEMAMixOptimizer.Beta3At(0, b1, b3, warmup).Should().BeApproximately(b1, 1e-12); // starts at beta1's half-life
        AdEMAMixOptimizer.Beta3At(4, b1, b3, warmup).Should().BeApproximately(b3, 1e-12);
        AdEMAMixOptimizer.Beta3At(2, b1, b3, warmup).Should().BeApproximately(Math.Exp(Math.Log(b1) * Math.Log(b3) / (0.5 * Math.Log(b3) + 0.5 * Math.Log(b1))), 1e-12);

        double[] w0 = [1.0, -2.0], c0 = [0.3];
        double[][] gw = [[0.5, -0.1], [0.2, 0.4], [-0.3, 0.6]];
        double[][] gc = [[1.0], [-2.0], [0.5]];
        var w = P(w0, 1, 2); var c = P(c0, 1);
        using var opt = new AdEMAMixOptimizer(new ParameterGroups([("w", w)], [("c", c)]), lr, b1, b2, b3, alpha, warmup, eps, wd);
        for (var t = 0; t < 3; t++) { SetGrad(w, gw[t]); SetGrad(c, gc[t]); opt.Step(1.0); }

        double[] Hand(double[] p0, double[][] grads, double decay)
        {
            var x = (double[])p0.Clone(); var m1 = new double[x.Length]; var m2 = new double[x.Length]; var v = new double[x.Length];
            for (var t = 1; t <= 3; t++)
            {
                var a = Math.Min(t * alpha / warmup, alpha);
                var r = (double)t / warmup;
                var beta3 = Math.Min(Math.Exp(Math.Log(b1) * Math.Log(b3) / ((1 - r) * Math.Log(b3) + r * Math.Log(b1))), b3);
                for (var i = 0; i < x.Length; i++)
                {
                    var g = grads[t - 1][i];
                    m1[i] = b1 * m1[i] + (1 - b1) * g;
                    m2[i] = beta3 * m2[i] + (1 - beta3) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    var u = (m1[i] / (1 - Math.Pow(b1, t)) + a * m2[i]) / (Math.Sqrt(v[i] / (1 - Math.Pow(b2, t))) + eps) + decay * x[i];
                    x[i] -= lr * u;
                }
            }
            return x;
        }
        Values(w).Should().Equal(Hand(w0, gw, wd), (p, q) => Math.Abs(p - q) < 1e-5);
        Values(c).Should().Equal(Hand(c0, gc, 0), (p, q) => Math.Abs(p - q) < 1e-5);
    }

    /// <summary>Named tensors of each role, gradients 0.5 everywhere (so Adam's first step moves each by its lr).</summary>
    static ParameterGroups RoleGroups(out Dictionary<string, Parameter> byName)
    {
        byName = new Dictionary<string, Parameter>
        {
            ["model.embed_tokens.weight"] = P([1, 2, 3, 4], 2, 2),
            ["model.layers.0.self_attn.value_embed.weight"] = P([1, -1], 1, 2),
            ["model.layers.0.mlp.up_proj.weight"] = P([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 3, 2),
            ["model.norm.weight"] = P([1, 1], 2),
            ["model.skip_weights.weight"] = P([1], 1),
            ["lm_head.weight"] = P([0.5, -0.5], 1, 2),
        };
        var list = byName.ToList();
        return new ParameterGroups(list.Where(x => x.Value.dim() >= 2).Select(x => (x.Key, x.Value)).ToList(),
                                   list.Where(x => x.Value.dim() < 2).Select(x => (x.Key, x.Value)).ToList());
    }

    [Fact]
    public void Parameter_roles_tell_embeddings_head_matrices_and_scalars_apart()
    {
        var g = RoleGroups(out var p);
        p.ToDictionary(x => x.Key, x => ParameterGroups.RoleOf(x.Key, x.Value)).Should().BeEquivalentTo(new Dictionary<string, ParameterRole>
        {
            ["model.embed_tokens.weight"] = ParameterRole.Embedding,
            ["model.layers.0.self_attn.value_embed.weight"] = ParameterRole.Embedding,
            ["model.layers.0.mlp.up_proj.weight"] = ParameterRole.Matrix,
            ["model.norm.weight"] = ParameterRole.Scalar,
            ["model.skip_weights.weight"] = ParameterRole.Scalar,
            ["lm_head.weight"] = ParameterRole.Head,
        });
        g.Hidden.Select(x => x.Name).Should().Equal("model.layers.0.mlp.up_proj.weight");
        // One rate for all roles keeps exactly the two groups (decay, no decay) of optimizer state saved before per-group rates.
        g.ByLearningRate(GroupLearningRates.Uniform(0.1)).Select(x => (x.Params.Count, x.Decay)).Should().Equal((4, true), (2, false));
        g.ByLearningRate(new GroupLearningRates(0.3, 0.01, 0.1, 0.05)).Select(x => (x.Params.Count, x.LearningRate, x.Decay))
            .Should().Equal((2, 0.3, true), (1, 0.1, true), (1, 0.01, true), (2, 0.05, false));
    }

    [Theory]
    [InlineData(OptimizerKind.AdamW)]
    [InlineData(OptimizerKind.Muon)]
    [InlineData(OptimizerKind.AdEMAMix)]
    public void Each_role_moves_at_its_own_learning_rate_times_the_schedule_factor(OptimizerKind kind)
    {
        var groups = RoleGroups(out var p);
        var lrs = new GroupLearningRates(Embedding: 0.3, Head: 0.01, Matrix: 0.1, Scalar: 0.05);
        var start = p.ToDictionary(x => x.Key, x => Values(x.Value));
        using IOptimizer opt = kind switch
        {
            OptimizerKind.AdamW => new AdamWOptimizer(groups, lrs, 0.9, 0.99, 1e-12, 0),
            OptimizerKind.Muon => new MuonOptimizer(groups, 0.02, 0.95, true, 0, lrs, 0.9, 0.99, 1e-12),
            _ => new AdEMAMixOptimizer(groups, lrs, 0.9, 0.99, 0.999, 0, 0, 1e-12, 0),
        };
        foreach (var t in p.Values) SetGrad(t, Enumerable.Repeat(0.5, (int)t.numel()).ToArray());
        opt.Step(0.5);
        // Adam's first bias-corrected step is lr * g / |g| = lr per element (AdEMAMix with alpha 0 is Adam).
        double Moved(string name) => start[name].Zip(Values(p[name]), (a, b) => a - b).Average();
        Moved("model.embed_tokens.weight").Should().BeApproximately(0.5 * 0.3, 1e-6);
        Moved("model.layers.0.self_attn.value_embed.weight").Should().BeApproximately(0.5 * 0.3, 1e-6);
        Moved("lm_head.weight").Should().BeApproximately(0.5 * 0.01, 1e-6);
        Moved("model.norm.weight").Should().BeApproximately(0.5 * 0.05, 1e-6);
        Moved("model.skip_weights.weight").Should().BeApproximately(0.5 * 0.05, 1e-6);
        if (kind == OptimizerKind.Muon)
            start["model.layers.0.mlp.up_proj.weight"].Zip(Values(p["model.layers.0.mlp.up_proj.weight"]), (a, b) => Math.Abs(a - b))
                .Should().OnlyContain(d => d > 0 && d < 0.5 * 0.02 * 1.3, "Muon moves the matrix by its own rate, not the AdamW matrix rate");
        else
            Moved("model.layers.0.mlp.up_proj.weight").Should().BeApproximately(0.5 * 0.1, 1e-6);
    }

    [Fact]
    public void Optimizer_state_round_trips_bit_exactly()
    {
        foreach (var kind in new[] { OptimizerKind.AdamW, OptimizerKind.Muon, OptimizerKind.AdEMAMix })
        {
            torch.manual_seed(3);
            var m1 = nn.Sequential(("fc", nn.Linear(4, 3)), ("out", nn.Linear(3, 2)));
            var m2 = nn.Sequential(("fc", nn.Linear(4, 3)), ("out", nn.Linear(3, 2)));
            m2.load_state_dict(m1.state_dict());
            var cfg = new TrainingConfig { Optimizer = kind, MaxSteps = 10, WarmupSteps = 0 };
            using var o1 = OptimizerFactory.Create(m1, cfg);
            using var o2 = OptimizerFactory.Create(m2, cfg);
            var x = torch.randn(5, 4);
            void Train(nn.Module<Tensor, Tensor> m, IOptimizer o) { o.ZeroGrad(); m.forward(x).square().sum().backward(); o.Step(1.0); }
            Train(m1, o1); Train(m1, o1);
            using var ms = new MemoryStream();
            o1.Save(new BinaryWriter(ms)); ms.Position = 0;
            Train(m2, o2); Train(m2, o2); // same two steps on an identical copy so the parameters agree
            var fresh = OptimizerFactory.Create(m2, cfg);
            fresh.Load(new BinaryReader(ms));
            Train(m1, o1); Train(m2, fresh);
            foreach (var ((n, p), (_, q)) in m1.named_parameters().Zip(m2.named_parameters()))
                p.eq(q).all().item<bool>().Should().BeTrue($"{kind} {n} after resume");
            fresh.Dispose();
        }
    }
}
