namespace LMHarness.Training;

/// <summary>
/// Where a run is: optimizer steps done (= the schedule position), tokens seen, and the losses last read: the last
/// step's batch loss, the last evaluation, the best validation loss so far.
/// </summary>
public sealed record RunState(long Step, long Tokens, double? TrainLoss, Evaluation? LastEvaluation, double? BestValLoss)
{
    public static readonly RunState Fresh = new(0, 0, null, null, null);

    /// <summary>After one more optimizer step of <paramref name="tokensPerStep"/> tokens.</summary>
    public RunState Next(long tokensPerStep) => this with { Step = Step + 1, Tokens = Tokens + tokensPerStep };

    /// <summary>With this step's batch loss and, when it evaluated, the evaluation (which may be a new best).</summary>
    public RunState With(double trainLoss, Evaluation? evaluation) => evaluation is null
        ? this with { TrainLoss = trainLoss }
        : this with
        {
            TrainLoss = trainLoss, LastEvaluation = evaluation,
            BestValLoss = BestValLoss is { } best && best <= evaluation.ValLoss ? best : evaluation.ValLoss,
        };
}
