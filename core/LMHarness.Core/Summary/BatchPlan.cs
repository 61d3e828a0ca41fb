using System.Globalization;
using System.Text;
using LMHarness.Config;

namespace LMHarness.Summary;

/// <summary>
/// How to reach a global batch within a memory budget: the largest micro-batch whose <see cref="MemoryPlan"/> fits
/// budget x (1 - headroom), the gradient accumulation that reaches the global batch with it, and activation
/// recomputation only when not even one sequence fits without it (recomputation costs about a third more compute: a
/// second forward per block). The micro-batch proposed is, between half that largest one and it, the one whose
/// accumulation overshoots the target least (one that divides it when there is one: the global batch stays the
/// one asked for), the larger on a tie. The headroom is for what the plan cannot know (the allocator's slack: the
/// CPU's resident peak ran 10-15 % above the plan; a CUDA caching allocator reserves and fragments).
/// </summary>
public sealed record BatchPlan
{
    /// <summary>The default share of the budget kept free for the allocator (see the class summary).</summary>
    public const double DefaultHeadroom = 0.15;

    /// <summary>
    /// Proposes micro_batch, grad_accumulation and recompute_activations for <paramref name="globalBatchTokens"/> tokens
    /// per optimizer step of <paramref name="model"/> trained as <paramref name="training"/> says otherwise (context,
    /// dtype, optimizer), within <paramref name="budgetBytes"/>. Throws, with what one sequence needs, when nothing fits.
    /// </summary>
    public static BatchPlan Propose(ModelConfig model, TrainingConfig training, long budgetBytes, long globalBatchTokens,
        double headroom = DefaultHeadroom, bool cuda = false)
    {
        if (budgetBytes <= 0 || globalBatchTokens <= 0)
            throw new ArgumentException($"the budget and the global batch must be > 0 (got {budgetBytes} bytes, {globalBatchTokens} tokens)");
        if (headroom is < 0 or >= 1) throw new ArgumentException($"headroom must be in [0, 1) (got {headroom})");
        var t = training.Validated();
        long usable = (long)(budgetBytes * (1 - headroom));
        int sequences = (int)Math.Min(int.MaxValue, (globalBatchTokens + t.ContextLength - 1) / t.ContextLength);
        MemoryPlan PlanAt(int micro, bool recompute) => MemoryPlan.For(model with { RecomputeActivations = recompute },
            t with { MicroBatch = micro, GradAccumulation = (sequences + micro - 1) / micro }, cuda);

        var options = new[] { model.RecomputeActivations, true }.Distinct()
            .Select(r => (Recompute: r, Micro: LargestWhere(m => PlanAt(m, r).PeakBytes <= usable, sequences))).ToList();
        var (chosenRecompute, largest) = options.FirstOrDefault(o => o.Micro > 0);
        if (largest == 0)
        {
            var one = PlanAt(1, true);
            var largestTerm = one.Persistent.Concat(one.PeakPhase.Terms).MaxBy(x => x.Bytes)!;
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Not even one sequence of {t.ContextLength} tokens fits, even with activation recomputation: micro_batch 1 x grad_accumulation {sequences} " +
                $"needs {MemoryPlan.Mb(one.PeakBytes)} MB, and {MemoryPlan.Mb(usable)} MB is usable ({MemorySize.Describe(budgetBytes)} less {headroom:P0} headroom). " +
                $"Its largest term is {largestTerm.Name}, {MemoryPlan.Mb(largestTerm.Bytes)} MB: {largestTerm.Formula}. " +
                $"Shorten the context or the global batch, train in bf16, pick a smaller model, or raise the budget.{Environment.NewLine}{one.ToTable()}"));
        }
        // Between half the largest and the largest, the micro-batch whose accumulation overshoots the target least
        // (an exact divisor of the sequences when there is one), the larger on a tie.
        int micro = Enumerable.Range((largest + 1) / 2, largest - (largest + 1) / 2 + 1)
            .Where(m => PlanAt(m, chosenRecompute).PeakBytes <= usable)
            .OrderBy(m => Overshoot(sequences, m)).ThenByDescending(m => m).First();
        int accumulation = (sequences + micro - 1) / micro;
        var alternative = options.FirstOrDefault(o => o.Recompute != chosenRecompute);
        return new BatchPlan
        {
            BudgetBytes = budgetBytes,
            Headroom = headroom,
            UsableBytes = usable,
            GlobalBatchTokens = globalBatchTokens,
            Sequences = sequences,
            MicroBatch = micro,
            GradAccumulation = accumulation,
            RecomputeActivations = chosenRecompute,
            Plan = PlanAt(micro, chosenRecompute),
            LargestFitting = largest,
            TooLarge = largest < sequences ? PlanAt(largest + 1, chosenRecompute) : null,
            LargestWithRecompute = alternative.Recompute && !chosenRecompute ? alternative.Micro : null,
        };
    }

    /// <summary>Sequences past the target when micro-batches of <paramref name="micro"/> reach <paramref name="sequences"/>.</summary>
    static int Overshoot(int sequences, int micro) => (sequences + micro - 1) / micro * micro - sequences;

    /// <summary>The largest m in [1, max] with <paramref name="fits"/>(m), 0 when none (memory grows with m).</summary>
    static int LargestWhere(Func<int, bool> fits, int max)
    {
        if (!fits(1)) return 0;
        int lo = 1, hi = max; // fits(lo) holds
        while (lo < hi)
        {
            int mid = lo + (hi - lo + 1) / 2;
            if (fits(mid)) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    public long BudgetBytes { get; init; }
    public double Headroom { get; init; }
    /// <summary>budget x (1 - headroom): what the planned peak must stay under.</summary>
    public long UsableBytes { get; init; }
    public long GlobalBatchTokens { get; init; }
    /// <summary>Sequences per optimizer step: ceil(global batch / context).</summary>
    public int Sequences { get; init; }
    public int MicroBatch { get; init; }
    public int GradAccumulation { get; init; }
    public bool RecomputeActivations { get; init; }
    /// <summary>The plan of the proposal.</summary>
    public MemoryPlan Plan { get; init; } = null!;
    /// <summary>The largest micro-batch that fits (the proposal is between half of it and it).</summary>
    public int LargestFitting { get; init; }
    /// <summary>The plan one sequence past <see cref="LargestFitting"/>, which does not fit (null when every sequence fits in one micro-batch).</summary>
    public MemoryPlan? TooLarge { get; init; }
    /// <summary>The largest micro-batch with activation recomputation, when the proposal does without it.</summary>
    public int? LargestWithRecompute { get; init; }

    /// <summary>Tokens per optimizer step of the proposal: micro-batch x accumulation x context (&gt;= the target).</summary>
    public long TokensPerStep => (long)MicroBatch * GradAccumulation * Plan.ContextLength;

    /// <summary>The proposal with its arithmetic: the budget, the plan of the proposal, and why one more sequence does not fit.</summary>
    public string ToText()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(ci, $"Budget {MemorySize.Describe(BudgetBytes)} less {Headroom:P0} headroom for the allocator = {MemorySize.Describe(UsableBytes)} usable."));
        sb.AppendLine(string.Create(ci, $"Global batch {GlobalBatchTokens:N0} tokens = {Sequences:N0} sequences of {Plan.ContextLength}."));
        var limit = TooLarge is { } next
            ? string.Create(ci, $" ({LargestFitting + 1} would need {next.PeakMb:N1} MB > {UsableBytes / (double)(1 << 20):N1} MB: its {next.PeakPhase.Name} adds {MemoryPlan.Mb(next.PeakPhase.Bytes)} MB).")
            : ", every sequence at once.";
        sb.AppendLine($"Largest micro-batch that fits{(RecomputeActivations ? " with activation recomputation (none fits without it)" : "")}: {LargestFitting}{limit}");
        if (LargestWithRecompute is { } r && r > LargestFitting)
            sb.AppendLine(string.Create(ci, $"With recompute_activations up to {r} would fit, for about a third more compute."));
        if (MicroBatch < LargestFitting)
            sb.AppendLine(string.Create(ci, $"Of micro-batches {(LargestFitting + 1) / 2} to {LargestFitting}, {MicroBatch} overshoots {Sequences:N0} sequences least ({Overshoot(Sequences, MicroBatch)} past it; {LargestFitting} would take {Overshoot(Sequences, LargestFitting)})."));
        sb.AppendLine(string.Create(ci, $"Proposal: micro_batch {MicroBatch} x grad_accumulation {GradAccumulation} x context_length {Plan.ContextLength} = {TokensPerStep:N0} tokens per step" +
                                        $"{(RecomputeActivations ? ", recompute_activations true" : "")}; planned peak {MemoryPlan.Mb(Plan.PeakBytes)} MB of {MemoryPlan.Mb(UsableBytes)} MB usable."));
        sb.Append(Plan.ToTable());
        return sb.ToString();
    }

    public override string ToString() => ToText();
}
