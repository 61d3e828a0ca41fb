using LMHarness.Config;
using LMHarness.Model;
using TorchSharp;
using LMHarness.Tests.Memory;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

/// <summary>
/// <see cref="FusedLinearCrossEntropy"/> computes what the logits path computes (<see cref="LanguageModelLoss"/> on
/// <c>F.linear(h, W)</c> in fp32, soft-capped): the loss and the gradients of h and W, alone and through a whole
/// <see cref="CausalLM"/>. Differences are relative to the largest magnitude of the reference.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class FusedLinearCrossEntropyTests
{
    const long B = 3, T = 11, D = 24, V = 301; // N = 33 rows: chunks of 7 leave a last chunk of 5, blocks of 50 one of 1

    /// <summary>max |a - b| / max |b|, in fp64.</summary>
    static double Rel(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var (a64, b64) = (a.to(ScalarType.Float64), b.to(ScalarType.Float64));
        return (a64 - b64).abs().max().item<double>() / b64.abs().max().item<double>();
    }

    /// <summary>‖a - b‖ / ‖b‖ (Frobenius), in fp64: the error of a whole tensor, where <see cref="Rel"/> sees its largest element's.</summary>
    static double RelNorm(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var (a64, b64) = (a.to(ScalarType.Float64), b.to(ScalarType.Float64));
        return (a64 - b64).norm().item<double>() / b64.norm().item<double>();
    }

    /// <summary>Hidden states (B,T,D), a head (V,D) wide enough for a cap of 2 to bend the logits, targets with every 4th ignored.</summary>
    static (Tensor H, Tensor W, Tensor Y) Inputs(ScalarType dtype, long seed = 7)
    {
        var g = new Generator((ulong)seed);
        var h = randn([B, T, D], generator: g).to(dtype);
        var w = (randn([V, D], generator: g) * 0.5).to(dtype);
        var y = randint(V, [B, T], dtype: ScalarType.Int64, generator: g);
        y.view(-1).index_fill_(0, arange(0, B * T, 4), LanguageModelLoss.IgnoreIndex);
        return (h, w, y);
    }

    /// <summary>The logits path: the whole (N, V) logits in fp32, soft-capped, then the loss.</summary>
    static Tensor Unfused(Tensor h, Tensor w, Tensor y, double cap, bool mean)
    {
        var logits = LogitSoftcap.Apply(nn.functional.linear(h, w).to(ScalarType.Float32), cap);
        return mean ? LanguageModelLoss.Mean(logits, y) : LanguageModelLoss.Sum(logits, y);
    }

    /// <summary>Loss and the gradients of h and W under an incoming gradient of 0.37 (not 1, so its scaling is tested).</summary>
    static (Tensor Loss, Tensor Dh, Tensor Dw) LossAndGrads(Tensor h0, Tensor w0, Func<Tensor, Tensor, Tensor> loss)
    {
        var h = h0.detach().clone().requires_grad_(true);
        var w = w0.detach().clone().requires_grad_(true);
        var l = loss(h, w);
        using (var g = tensor(0.37f)) (l * g).backward();
        HandedGradients.Release();
        return (l.detach(), h.grad!, w.grad!);
    }

    /// <summary>Tiles of rows x vocabulary ids; 0 x 0 is the default (one tile here).</summary>
    static FusedLinearCrossEntropy.Tiles? Tiles(long rows, long vocab) => rows == 0 ? null : new(rows, vocab);

    [Theory]
    [InlineData(0.0, true, 7, 50)]
    [InlineData(2.0, true, 7, 50)]
    [InlineData(0.0, false, 7, 50)]
    [InlineData(2.0, false, 7, 50)]
    [InlineData(2.0, true, 1, 301)]
    [InlineData(2.0, true, 33, 1)]
    [InlineData(2.0, true, 0, 0)]
    public void Fp32_loss_and_gradients_equal_the_logits_path(double cap, bool mean, long rows, long vocab)
    {
        using var scope = NewDisposeScope();
        var (h, w, y) = Inputs(ScalarType.Float32);
        var tiles = Tiles(rows, vocab);
        var fused = LossAndGrads(h, w, (h, w) => mean ? FusedLinearCrossEntropy.Mean(h, w, y, cap, tiles) : FusedLinearCrossEntropy.Sum(h, w, y, cap, tiles));
        var plain = LossAndGrads(h, w, (h, w) => Unfused(h, w, y, cap, mean));

        Rel(fused.Loss, plain.Loss).Should().BeLessThan(1e-5);
        Rel(fused.Dh, plain.Dh).Should().BeLessThan(1e-5);
        Rel(fused.Dw, plain.Dw).Should().BeLessThan(1e-5);
        // Ignored rows get no gradient (their targets would otherwise pull on row 0 of W through the index they borrow).
        fused.Dh.view(-1, D)[0].abs().max().item<float>().Should().Be(0f, "row 0's target is ignored");
    }

    [Theory]
    [InlineData(true, false)]  // a frozen head (freeze: model.embed_tokens, tied): dh only
    [InlineData(false, true)]  // everything below the head frozen: dW only
    public void An_input_that_needs_no_gradient_gets_none_and_the_other_equals_the_logits_path(bool hTrains, bool wTrains)
    {
        using var scope = NewDisposeScope();
        var (h0, w0, y) = Inputs(ScalarType.Float32);
        var plain = LossAndGrads(h0, w0, (h, w) => Unfused(h, w, y, 2.0, mean: true));
        var tiles = Tiles(7, 50);
        var h = h0.detach().clone().requires_grad_(hTrains);
        var w = w0.detach().clone().requires_grad_(wTrains);
        HandedGradients.Release();
        var loss = FusedLinearCrossEntropy.Mean(h, w, y, 2.0, tiles);
        using (var g = tensor(0.37f)) (loss * g).backward();
        HandedGradients.Pending.Should().Be(1, "backward makes only the gradient autograd asks for");
        HandedGradients.Release();
        Rel(loss, plain.Loss).Should().BeLessThan(1e-5);
        if (hTrains) { Rel(h.grad!, plain.Dh).Should().BeLessThan(1e-5); w.grad.Should().BeNull(); }
        else { Rel(w.grad!, plain.Dw).Should().BeLessThan(1e-5); h.grad.Should().BeNull(); }
    }

    /// <summary>
    /// bf16 compute (the head's matmuls in bf16, the loss in fp32). Both paths round dlogits and each matmul's output to
    /// bf16; the fused path sums its blocks' and chunks' products in fp32 and rounds the sums once, so it agrees with
    /// the logits path within bf16's resolution (<see cref="Bf16Tolerance"/>).
    /// </summary>
    [Theory]
    [InlineData(0.0, 7, 50)]
    [InlineData(2.0, 7, 50)]
    [InlineData(2.0, 1, 50)] // 33 chunks of rows: dW rounded to bf16 at every chunk would drift
    public void Bf16_loss_and_gradients_equal_the_logits_path_within_bf16_rounding(double cap, long rows, long vocab)
    {
        using var scope = NewDisposeScope();
        var (h, w, y) = Inputs(ScalarType.BFloat16);
        var fused = LossAndGrads(h, w, (h, w) => FusedLinearCrossEntropy.Mean(h, w, y, cap, Tiles(rows, vocab)));
        var plain = LossAndGrads(h, w, (h, w) => Unfused(h, w, y, cap, mean: true));
        var exact = LossAndGrads(h.to(ScalarType.Float32), w.to(ScalarType.Float32), (h, w) => Unfused(h, w, y, cap, mean: true));

        fused.Loss.dtype.Should().Be(ScalarType.Float32);
        (fused.Dh.dtype, fused.Dw.dtype).Should().Be((ScalarType.BFloat16, ScalarType.BFloat16));
        Rel(fused.Loss, plain.Loss).Should().BeLessThan(1e-5, "the loss is fp32 on the same bf16 logits");
        Rel(fused.Dh, plain.Dh).Should().BeLessThan(Bf16Tolerance);
        Rel(fused.Dw, plain.Dw).Should().BeLessThan(Bf16Tolerance);
        // Both as far from the fp32 gradients: a bf16 rounding each (dW 2.9e-3 and 3.0e-3 with the cap, rows 7).
        RelNorm(fused.Dw, exact.Dw).Should().BeLessThan(1.25 * RelNorm(plain.Dw, exact.Dw));
        RelNorm(fused.Dh, exact.Dh).Should().BeLessThan(1.25 * RelNorm(plain.Dh, exact.Dh));
    }

    /// <summary>
    /// dW sums the products of 256 one-row chunks in fp32 and rounds once: as close to the fp32 gradient as the logits
    /// path's single bf16 matmul. Summed in bf16 instead (each partial sum rounded), it drifts: 9.8e-3 against 3.5e-3.
    /// </summary>
    [Fact]
    public void Bf16_dW_sums_its_chunks_in_fp32()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(11);
        var h = randn([256, D], generator: g).to(ScalarType.BFloat16);
        var w = (randn([V, D], generator: g) * 0.5).to(ScalarType.BFloat16);
        var y = randint(V, [256], dtype: ScalarType.Int64, generator: g);
        var fused = LossAndGrads(h, w, (h, w) => FusedLinearCrossEntropy.Mean(h, w, y, 0, new(1, 50)));
        var plain = LossAndGrads(h, w, (h, w) => Unfused(h, w, y, 0, mean: true));
        var exact = LossAndGrads(h.to(ScalarType.Float32), w.to(ScalarType.Float32), (h, w) => Unfused(h, w, y, 0, mean: true));

        RelNorm(fused.Dw, exact.Dw).Should().BeLessThan(1.5 * RelNorm(plain.Dw, exact.Dw));
    }

    /// <summary>
    /// The stated bf16 tolerance, max |fused - logits path| / max |logits path| for dh and dW: 2^-7, one bf16 step at
    /// the top of the gradient's range (measured: dh 3.0e-3 to 4.4e-3, dW 4.6e-3 to 5.8e-3).
    /// </summary>
    public const double Bf16Tolerance = 1.0 / 128;

    [Fact]
    public void Per_position_losses_under_no_grad_equal_the_logits_path_and_refuse_a_graph()
    {
        using var scope = NewDisposeScope();
        var (h, w, y) = Inputs(ScalarType.Float32);
        using (no_grad())
        {
            var fused = FusedLinearCrossEntropy.PerPosition(h, w, y, 2.0, Tiles(7, 50));
            var plain = LanguageModelLoss.PerPosition(LogitSoftcap.Apply(nn.functional.linear(h, w), 2.0), y);
            fused.shape.Should().Equal(B, T);
            Rel(fused, plain).Should().BeLessThan(1e-5);
            fused.view(-1)[0].item<float>().Should().Be(0f, "an ignored position's loss is 0");
        }
        var withGraph = () => FusedLinearCrossEntropy.PerPosition(h, w.requires_grad_(true), y, 0, Tiles(7, 50));
        withGraph.Should().Throw<InvalidOperationException>().WithMessage("*no backward*no_grad*");
    }

    /// <summary>Through a whole model: the fused loss's gradient reaches every parameter as the logits path's does.</summary>
    [Theory]
    [InlineData(true, 0.0)]
    [InlineData(true, 2.0)]
    [InlineData(false, 0.0)]
    [InlineData(false, 2.0)]
    public void Every_parameters_gradient_through_the_model_equals_the_logits_path(bool tied, double cap)
    {
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { TieEmbeddings = tied, LogitSoftcap = cap, InitStd = 0.3 };
        using var fused = Tiny.Build(config, seed: 3);
        using var plain = Tiny.Build(config, seed: 3);
        using var idx = Tiny.Tokens(config, 2, 12);
        using var targets = Tiny.Tokens(config, 2, 12, seed: 5);
        targets[0, 3] = LanguageModelLoss.IgnoreIndex;
        float fusedLoss, plainLoss;
        using (var loss = fused.FusedLoss(idx, targets, nn.Reduction.Mean, Tiles(5, 10))) { fusedLoss = loss.item<float>(); loss.backward(); }
        HandedGradients.Release();
        using (var loss = plain.Loss(idx, targets)) { plainLoss = loss.item<float>(); loss.backward(); }

        fusedLoss.Should().BeApproximately(plainLoss, 1e-5f * plainLoss);
        var plainGrads = plain.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        foreach (var (name, p) in fused.named_parameters())
        {
            p.grad.Should().NotBeNull(name);
            Rel(p.grad!, plainGrads[name]).Should().BeLessThan(1e-5, name);
        }
        fused.named_parameters().Select(p => p.name).Should().Contain(tied ? "model.embed_tokens.weight" : "lm_head.weight");
    }

    /// <summary>
    /// Training steps and evaluations through the fused loss leave no tensor behind: the number of live tensors after
    /// the last step equals the number after the second (the first creates the gradients). The collector is kept from
    /// running meanwhile (a no-GC region), so a tensor left to a finalizer stays counted; earlier tests' garbage is
    /// collected first. Planting a leak (a handed gradient never released: drop <c>HandedGradients.Hand</c> in the
    /// backward) makes it grow by 2 a step.
    /// </summary>
    [Fact]
    public void Repeated_fused_steps_and_evaluations_leave_no_live_tensors()
    {
        var config = Tiny.Config(AttentionKind.Gqa, PositionKind.Rope) with { LogitSoftcap = 2.0, TieEmbeddings = false };
        using var model = Tiny.Build(config, seed: 8);
        model.train();
        using var idx = Tiny.Tokens(config, 2, 12);
        HandedGradients.Release(); // what earlier tests' backward calls handed out
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var live = new List<long>();
        GC.TryStartNoGCRegion(64L << 20).Should().BeTrue();
        try
        {
            for (var step = 0; step < 6; step++)
            {
                using (var scope = NewDisposeScope())
                {
                    model.FusedLoss(idx, idx, nn.Reduction.Mean, Tiles(5, 10)).backward();
                    HandedGradients.Release();
                    using (no_grad()) model.FusedLoss(idx, idx, nn.Reduction.None, Tiles(5, 10)).sum().item<float>();
                }
                live.Add(Tensor.TotalCount);
            }
        }
        finally
        {
            if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
        live[^1].Should().Be(live[1], "live tensors after each step: {0}", string.Join(",", live));
        HandedGradients.Pending.Should().Be(0);
    }

    /// <summary>
    /// On CUDA, libtorch runs backward on its own thread, where no dispose scope is open; calling backward() from a
    /// thread without a scope reproduces that on the CPU (as ActivationRecomputeTests does). Every tensor the fused
    /// backward makes there must be disposed by the backward itself or by <see cref="HandedGradients.Release"/>.
    /// Planting a leak (unpacking the saved tensors before the backward's scope opens) leaves 4 a step.
    /// </summary>
    [Fact]
    public void Backward_on_a_thread_without_a_dispose_scope_leaves_no_live_tensors()
    {
        var config = Tiny.Config(AttentionKind.Mha, PositionKind.Learned) with { LogitSoftcap = 2.0 };
        using var model = Tiny.Build(config, seed: 9);
        model.train();
        using var idx = Tiny.Tokens(config, 2, 12);
        HandedGradients.Release();
        var liveAfterStep = new List<long>();
        for (var step = 0; step < 4; step++)
        {
            using var scope = NewDisposeScope();
            var loss = model.FusedLoss(idx, idx, nn.Reduction.Sum, Tiles(5, 10));
            liveAfterStep.Add(LiveTensors.LeftOnAThread(() =>
            {
                loss.backward();
                HandedGradients.Release();
            }));
            model.zero_grad();
        }
        liveAfterStep.Should().OnlyContain(n => n == 0, "every tensor the backward made on its thread is disposed ({0})", string.Join(",", liveAfterStep));
        HandedGradients.Pending.Should().Be(0);
    }
}
