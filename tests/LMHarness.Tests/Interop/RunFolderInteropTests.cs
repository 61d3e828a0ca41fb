using LMHarness.Data;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;
using LMHarness.Training;
using LMHarness.Training.Checkpoints;
using LMHarness.Runs;
using TorchSharp;

namespace LMHarness.Tests.Interop;

public class RunFolderInteropTests
{
    [Fact]
    public void A_trained_run_exports_to_hf_and_the_import_continues_training_from_its_weights()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var t = TrainingFixtures.TinyTraining;
        using (var data = TokenFileBatches.Open(tokens, t))
            new Trainer(TrainingFixtures.TinyModel, t, data, dir.File("run"), c => new CausalLM(c)).Train();

        var loaded = ModelSource.Load(dir.File("run"));
        loaded.Tokenizer!.Kind.Should().Be(TokenizerKind.Char);
        loaded.Description.Should().Contain("step 12");

        HfModel.Export(loaded.Model, dir.File("hf"), loaded.Tokenizer).Should().Be(HfArchitecture.Gpt2);
        var imported = HfModel.Import(dir.File("hf"));
        HfModel.ReadTokenizer(dir.File("hf")).Should().Be(loaded.Tokenizer);
        var idx = torch.tensor(new long[] { 1, 2, 3, 4, 5, 6, 7, 8 }).unsqueeze(0);
        using (torch.no_grad())
        {
            loaded.Model.eval(); imported.eval();
            (loaded.Model.forward(idx) - imported.forward(idx)).abs().max().item<float>().Should().Be(0);
        }

        // Continue training from the import vs from scratch: the imported weights start ahead.
        var more = t with { MaxSteps = 2, WarmupSteps = 1, LogInterval = 1, EvalInterval = 2 };
        using (var data = TokenFileBatches.Open(tokens, more))
            new Trainer(imported.Config with { Dropout = 0.1 }, more, data, dir.File("continued"), _ => HfModel.Import(dir.File("hf"))).Train();
        using (var data = TokenFileBatches.Open(tokens, more))
            new Trainer(TrainingFixtures.TinyModel, more, data, dir.File("fresh"), c => new CausalLM(c)).Train();
        var continued = MetricsRow.Read(dir.File("continued/metrics.csv"))[0].TrainLoss;
        var fresh = MetricsRow.Read(dir.File("fresh/metrics.csv"))[0].TrainLoss;
        continued.Should().BeLessThan(fresh - 0.1);
    }
}
