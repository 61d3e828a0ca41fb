using LMHarness.Config;
using static TorchSharp.torch;

namespace LMHarness.Tests.Model;

public class CausalityTests
{
    public static IEnumerable<object[]> Kinds() => Tiny.AttentionByPosition();

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Changing_a_later_token_never_changes_earlier_logits(AttentionKind a, PositionKind p, int nKvHead)
    {
        using var scope = NewDisposeScope();
        var config = Tiny.Config(a, p, nKvHead: nKvHead);
        using var model = Tiny.Build(config);
        var idx = Tiny.Tokens(config, 2, 16);
        var reference = model.forward(idx);
        foreach (int t in new[] { 0, 5, 14 })
        {
            var changed = idx.clone();
            // Replace every token after t (t+1 .. end) with different ones.
            var later = changed.narrow(1, t + 1, 15 - t);
            later.copy_((later + 1 + Tiny.Tokens(config, 2, 15 - t, seed: t) % (config.VocabSize - 1)) % config.VocabSize);
            (changed.narrow(1, t + 1, 15 - t) != idx.narrow(1, t + 1, 15 - t)).all().item<bool>().Should().BeTrue();
            var logits = model.forward(changed);
            Tiny.MaxAbsDiff(logits.narrow(1, 0, t + 1), reference.narrow(1, 0, t + 1)).Should().BeLessThan(1e-5f);
            // ... while the later positions do change (the test can fail).
            Tiny.MaxAbsDiff(logits.narrow(1, t + 1, 15 - t), reference.narrow(1, t + 1, 15 - t)).Should().BeGreaterThan(1e-4f);
        }
    }
}
