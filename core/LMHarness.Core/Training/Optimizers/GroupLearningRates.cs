using LMHarness.Config;

namespace LMHarness.Training.Optimizers;

/// <summary>What a parameter is, for choosing its learning rate (see <see cref="ParameterGroups.RoleOf"/>).</summary>
public enum ParameterRole
{
    /// <summary>A table that is looked up: token, learned position and value embeddings (and the head when tied to the token embedding).</summary>
    Embedding,
    /// <summary>An untied <c>lm_head</c>.</summary>
    Head,
    /// <summary>A 2-D weight inside the blocks (what Muon orthogonalises).</summary>
    Matrix,
    /// <summary>A 1-D tensor: norm gains, biases, skip weights, lambdas.</summary>
    Scalar,
}

/// <summary>
/// Peak learning rate per <see cref="ParameterRole"/> (modded-nanogpt, Keller Jordan et al. 2024, tunes these apart:
/// the embedding moves fastest, the head slowest). The schedule scales all of them by the same factor.
/// </summary>
public sealed record GroupLearningRates(double Embedding, double Head, double Matrix, double Scalar)
{
    /// <summary>One learning rate for every group (the default, nanoGPT's single AdamW rate).</summary>
    public static GroupLearningRates Uniform(double lr) => new(lr, lr, lr, lr);

    /// <summary>The config's peak rate per group: embedding/head/matrix/scalar_learning_rate, a 0 field replaced by learning_rate.</summary>
    public static GroupLearningRates Of(TrainingConfig c) => new(
        c.EmbeddingLearningRate > 0 ? c.EmbeddingLearningRate : c.LearningRate,
        c.HeadLearningRate > 0 ? c.HeadLearningRate : c.LearningRate,
        c.MatrixLearningRate > 0 ? c.MatrixLearningRate : c.LearningRate,
        c.ScalarLearningRate > 0 ? c.ScalarLearningRate : c.LearningRate);

    public double For(ParameterRole role) => role switch
    {
        ParameterRole.Embedding => Embedding,
        ParameterRole.Head => Head,
        ParameterRole.Matrix => Matrix,
        ParameterRole.Scalar => Scalar,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "unknown parameter role"),
    };
}
