namespace LMHarness.Training.Metrics;

/// <summary>
/// One row of metrics.csv. Columns, in order: step, tokens, train_loss (this step's batch; at step 0, before any
/// update, the train-split estimate), val_loss and train_eval_loss (validation loss and the train-split estimate
/// over eval_batches batches, empty on rows without an evaluation: nanoGPT's "train loss, val loss"), lr, grad_norm
/// (global L2 norm before clipping), tokens_per_s (since the previous row), mfu (achieved model FLOP/s over peak,
/// PaLM appendix B: 6N + 12 L T d FLOPs per token), elapsed_s, rss_mb.
/// </summary>
public sealed record MetricsRow(
    long Step, long Tokens, double TrainLoss, double? ValLoss, double? TrainEvalLoss, double Lr, double GradNorm,
    double TokensPerS, double Mfu, double ElapsedS, double RssMb);
