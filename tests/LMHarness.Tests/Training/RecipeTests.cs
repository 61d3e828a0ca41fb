using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Tests.Data;
using LMHarness.Tokenizers;
using LMHarness.Training;
using LMHarness.Config;
using LMHarness.Corpora;
using LMHarness.Experiments;

namespace LMHarness.Tests.Training;

public class RecipeTests
{
    [Fact]
    public void NanoGpt_cpu_recipe_matches_the_published_settings()
    {
        var (name, m, t, _) = RunRecipes.NanoGptCpu();
        name.Should().Be("nanogpt-cpu");
        (m.NLayer, m.NHead, m.DModel, m.ContextLength, m.Dropout, m.VocabSize).Should().Be((4, 4, 128, 64, 0.0, 65));
        (t.MicroBatch, t.ContextLength, t.MaxSteps, t.WarmupSteps, t.LearningRate, t.MinLearningRate, t.Beta2, t.Schedule)
            .Should().Be((12, 64, 2000, 100, 1e-3, 1e-4, 0.99, ScheduleKind.Cosine));
        var llama = RunRecipes.LlamaCpu();
        llama.Training.Should().Be(t);
        long Params(LMHarness.Config.ModelConfig c) { using var x = new CausalLM(c); return x.parameters().Sum(p => p.numel()); }
        var (a, b) = (Params(m), Params(llama.Model));
        Math.Abs(a - b).Should().BeLessThan(a / 100, "equal parameter count within 1 % (SwiGLU 392: +0.51 %)");
    }

    [Fact]
    public void Char_token_file_is_nanoGPTs_65_char_tokenisation_with_a_10_percent_val_split()
    {
        using var dir = new TempDir();
        var text = DataFixtures.TinyShakespeare;
        var path = RunRecipes.PrepareCharTokenFile(DataFixtures.TinyShakespearePath(), dir.File("chars.bin"));
        using var f = TokenFile.Open(path);
        f.Tokenizer.VocabSize.Should().Be(65);
        f.Count.Should().Be(text.Length);
        f.ValTokens.Should().Be(text.Length - (long)(text.Length * 0.9)); // nanoGPT: train = data[:int(n * 0.9)]
        var expected = CharTokenizer.FromText(text).Encode(text[..1000]);
        f.Read(0, 1000).Should().Equal(expected);
        RunRecipes.PrepareCharTokenFile(DataFixtures.TinyShakespearePath(), dir.File("chars.bin")).Should().Be(path); // reused
    }
}
