namespace LMHarness.Training.Metrics;

/// <summary>
/// One row of metrics.csv. Columns, in order: step, tokens, train_loss, val_loss (empty on rows without an
/// evaluation), lr, grad_norm (global L2 norm before clipping), tokens_per_s (since the previous row),
/// mfu (achieved model FLOP/s over peak, PaLM appendix B: 6N + 12 L T d FLOPs per token), elapsed_s, rss_mb.
/// </summary>
public sealed record MetricsRow(
    long Step, long Tokens, double TrainLoss, double? ValLoss, double Lr, double GradNorm,
    double TokensPerS, double Mfu, double ElapsedS, double RssMb);
