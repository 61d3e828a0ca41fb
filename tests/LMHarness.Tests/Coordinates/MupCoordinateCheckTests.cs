using LMHarness.Config;
using LMHarness.Coordinates;
using LMHarness.Tests.Memory;
using static TorchSharp.torch;

namespace LMHarness.Tests.Coordinates;

/// <summary>
/// The coordinate check (Tensor Programs V, section 7; <see cref="CoordinateCheck"/>): after a few Adam steps at a large
/// rate, μP's attention, MLP and logit coordinates stay flat against width while SP's grow. Its own negative control is
/// SP, trained on the same batches from the same seed.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class MupCoordinateCheckTests
{
    static readonly int[] Widths = [64, 128, 256];
    const int Steps = 4;

    static ModelConfig Model(int width, Parametrization p) => new()
    {
        VocabSize = 65, ContextLength = 32, NLayer = 1, DModel = width, NHead = 4, NKvHead = 4, FfnHidden = 2 * width,
        AttentionKinds = [AttentionKind.Mha], FeedForwardKinds = [FeedForwardKind.SwiGlu], Position = PositionKind.Rope,
        Norm = NormKind.RmsNorm, Bias = false, TieEmbeddings = false,
        Parametrization = p, MupBaseWidth = p == Parametrization.Mup ? Widths[0] : 0,
    };

    // Random tokens, the same at every width: step s's batch is drawn from generator 100 + s.
    static (Tensor X, Tensor Y) Batch(int step)
    {
        using var generator = new Generator((ulong)(100 + step));
        var tokens = randint(65, [4, 33], dtype: ScalarType.Int64, generator: generator);
        return (tokens[.., ..32], tokens[.., 1..]);
    }

    static IReadOnlyList<CoordinateRecord> Check() => CoordinateCheck.Run(Model, Widths, [Parametrization.Sp, Parametrization.Mup],
        new TrainingConfig { LearningRate = 1e-2, WeightDecay = 0, Seed = 1 }, Steps, Batch);

    [Fact]
    public void After_a_few_steps_mup_coordinates_are_flat_in_width_where_sp_ones_grow()
    {
        IReadOnlyList<CoordinateRecord> records = [];
        LiveTensors.LeftOnAThread(() => records = Check()).Should().Be(0, "models, optimizer state, batches and every hooked activation are disposed");
        records.Should().HaveCount(2 * Widths.Length * Steps * CoordinateCheck.Names(1).Count);

        // Measured at step 4 (widths 64-256, lr 1e-2): μP's slopes attn -0.13, mlp -0.28, logits -0.15, embedding 0.00;
        // SP's attn 1.81, mlp 2.93, logits 0.84 (the readout's Adam update sums d_model terms of size ~lr).
        const double flat = 0.3, growing = 0.8;
        foreach (var c in new[] { "embedding", "layers.0.attn", "layers.0.mlp", "logits" })
            CoordinateCheckReport.Slope(records, Parametrization.Mup, c, Steps).Should().BeInRange(-flat, flat, $"μP keeps {c} Θ(1) in width");
        foreach (var c in new[] { "layers.0.attn", "layers.0.mlp", "logits" })
            CoordinateCheckReport.Slope(records, Parametrization.Sp, c, Steps).Should().BeGreaterThan(growing, $"under SP {c} grows with width (the negative control)");
        // The embedding's lookup is width-independent under both: its entries are init_std-sized whatever d_model.
        CoordinateCheckReport.Slope(records, Parametrization.Sp, "embedding", Steps).Should().BeInRange(-flat, flat);
    }

    [Fact]
    public void At_the_base_width_mup_records_are_sps()
    {
        var records = Check().Where(r => r.Width == Widths[0]).ToList();
        var sp = records.Where(r => r.Parametrization == Parametrization.Sp).Select(r => (r.Step, r.Coordinate, r.MeanAbs));
        records.Where(r => r.Parametrization == Parametrization.Mup).Select(r => (r.Step, r.Coordinate, r.MeanAbs)).Should().Equal(sp);
    }

    [Fact]
    public void Log_log_slope_is_the_exponent_of_a_power_law()
    {
        CoordinateCheckReport.LogLogSlope([(6, 1.5 * 6), (7, 1.5 * 7 + 0), (8, 1.5 * 8)]).Should().BeApproximately(1.5, 1e-12);
        var records = new[] { 64, 128, 256, 512 }.Select(w => new CoordinateRecord(Parametrization.Mup, w, 1, "logits", 3.0 * Math.Pow(w, -0.5))).ToList();
        CoordinateCheckReport.Slope(records, Parametrization.Mup, "logits", 1).Should().BeApproximately(-0.5, 1e-12);
        var one = () => CoordinateCheckReport.Slope(records.Take(1).ToList(), Parametrization.Mup, "logits", 1);
        one.Should().Throw<ArgumentException>().WithMessage("*two widths*");
        var zero = () => CoordinateCheckReport.LogLogSlope([(6, 1), (7, double.NegativeInfinity)]);
        zero.Should().Throw<ArgumentException>().WithMessage("*positive, finite*");
    }

    [Fact]
    public void A_check_with_one_width_or_no_steps_is_refused()
    {
        var oneWidth = () => CoordinateCheck.Run(Model, [64], [Parametrization.Sp], new TrainingConfig(), 2, Batch);
        oneWidth.Should().Throw<ArgumentException>().WithMessage("*two widths*");
        var noSteps = () => CoordinateCheck.Run(Model, Widths, [Parametrization.Sp], new TrainingConfig(), 0, Batch);
        noSteps.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*at least one step*");
    }
}
