using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Experiments;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tests.Generation;
using LMHarness.Tests.Memory;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;
using LMHarness.Training;
using static TorchSharp.torch;

namespace LMHarness.Tests.Interop;

/// <summary>
/// The parts of issue 27's check one at a time, in this process: what <see cref="WeightsFit"/> says for each kind of
/// disagreement, that the HF listing is what export writes, the memory refusal with a stated limit for every loader
/// (before a tensor exists), and the run-folder reader that builds from the run's own config.json.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class LoadCheckTests : IDisposable
{
    readonly TempDir dir = new();
    public void Dispose() => dir.Dispose();

    static readonly MemoryBudget Plenty = new(1e15, "test");
    static readonly ModelConfig Config = TinyModels.Llama;

    static List<DeclaredTensor> Declared(ModelConfig config) =>
        ParameterShapes.Of(config).Select(p => new DeclaredTensor(p.Name, p.Shape, p.Elements * 4)).ToList();

    static Action Check(List<DeclaredTensor> declared, MemoryBudget? budget = null, Func<string, bool>? ignored = null) =>
        () => WeightsFit.Check(Config, ParameterShapes.Of(Config), declared, "w.safetensors", "c.json", "fix c.json", budget ?? Plenty, ignored);

    [Fact]
    public void Each_disagreement_is_one_sentence_naming_both_files_the_first_tensor_and_the_fix()
    {
        Check(Declared(Config)).Should().NotThrow();

        var misShaped = Declared(Config);
        misShaped[3] = misShaped[3] with { Shape = [7, 32] };
        Check(misShaped).Should().Throw<InvalidDataException>().WithMessage(
            $"w.safetensors does not hold the model c.json describes: tensor '{misShaped[3].Name}' is [7, 32] in the file but [16, 32] in the config " +
            "(the config describes 23,712 parameters; the file holds 23,424, 93 KB); fix c.json.");

        var missing = Declared(Config).Where(t => t.Name != "model.norm.weight").ToList();
        Check(missing).Should().Throw<InvalidDataException>().WithMessage("*it has no tensor 'model.norm.weight', which the config makes [32]*");

        var extra = Declared(Config).Append(new DeclaredTensor("lm_head.weight", [256, 32], 4 * 256 * 32)).ToList();
        Check(extra).Should().Throw<InvalidDataException>().WithMessage("*it holds tensor 'lm_head.weight' [256, 32], which the config does not build*");
        Check(extra, ignored: n => n == "lm_head.weight").Should().NotThrow("a loader may skip what it knows (a tied head's copy)");

        var twice = Declared(Config).Append(Declared(Config)[0]).ToList();
        Check(twice).Should().Throw<InvalidDataException>().WithMessage("*it holds tensor 'model.embed_tokens.weight' [256, 32], which the config does not build*");
    }

    [Fact]
    public void A_model_larger_than_the_budget_is_refused_with_the_figure()
    {
        // 23,712 float32 parameters (93 KB), the file's 93 KB, and one float32 cast of the 8,192-element embedding (32 KB).
        Check(Declared(Config), new MemoryBudget(100_000, "a test's budget")).Should().Throw<InsufficientMemoryException>().WithMessage(
            "Loading w.safetensors needs 217 KB (23,712 parameters in float32, plus 93 KB of tensors read from the file) but this process may use only 98 KB more (a test's budget): *");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_hf_listing_is_what_export_writes(bool tied)
    {
        foreach (var config in new[] { TinyModels.Llama with { TieEmbeddings = tied }, TinyModels.Gpt2 with { TieEmbeddings = tied } })
        {
            var folder = dir.File($"{config.Position}-{tied}");
            using (var model = TinyModels.Build(config, 1)) HfModel.Export(model, folder, null);
            var (read, arch, _) = HfModel.ReadConfig(folder);
            var header = Safetensors.ReadHeader(Path.Combine(folder, HfModel.WeightsFile));
            var written = header.Entries.Where(e => !HfTensorLayout.Skipped(e.Name, read, arch)).Select(e => $"{e.Name} {ParameterShape.ShapeText(e.Shape)}");
            HfTensorLayout.Expected(read, arch).Select(p => p.ToString()).Should().BeEquivalentTo(written, "{0}, tied {1}", arch, tied);
        }
    }

    [Fact]
    public void Every_loader_refuses_a_model_past_the_stated_memory_limit_before_any_tensor_exists()
    {
        using (var model = TinyModels.Build(Config, 2))
        {
            HfModel.Export(model, dir.File("hf"), TokenizerIdentity.Bytes);
            HarnessExport.Save(model, dir.File("native"), TokenizerIdentity.Bytes);
        }
        var training = TrainingFixtures.TinyTraining with { MaxSteps = 1, WarmupSteps = 0, GradFlowInterval = 0, EvalBatches = 1 };
        Trainer.Run(Config, training, TrainingFixtures.TokenFile(dir.Path), dir.File("run"));
        string[] sources = [dir.File("hf"), dir.File("native"), dir.File("run"), new RunFolder(dir.File("run")).LatestCheckpoint!];

        using var limit = new StatedMemoryLimit(0.05);
        foreach (var source in sources)
        {
            long live = LiveTensors.Count;
            var load = () => ModelSource.Load(source);
            load.Should().Throw<InsufficientMemoryException>().WithMessage($"Loading *needs * KB (23,712 parameters in float32*) but this process may use only 51 KB more ({MachineMemory.LimitVariable}=0.05): *", source);
            LiveTensors.Count.Should().Be(live, "{0} is refused before a model or tensor is made", source);
        }
    }

    [Fact]
    public void Re_evaluating_a_run_refuses_a_run_config_that_disagrees_with_its_checkpoint_naming_it()
    {
        var run = dir.File("run");
        var training = TrainingFixtures.TinyTraining with { MaxSteps = 1, WarmupSteps = 0, GradFlowInterval = 0, EvalBatches = 1 };
        Trainer.Run(TrainingFixtures.TinyModel, training, TrainingFixtures.TokenFile(dir.Path), run);
        var configPath = Path.Combine(run, RunFolder.ConfigFile);
        var json = JsonNode.Parse(File.ReadAllText(configPath))!;
        json["model"]!["ffn_hidden"] = 33;
        File.WriteAllText(configPath, json.ToJsonString());

        var evaluate = () => RunEvaluation.ValLoss(run, 8, 1);
        evaluate.Should().Throw<InvalidDataException>().WithMessage(
            $"*step_0000001.ckpt does not hold the model {configPath} describes: tensor 'model.layers.0.mlp.up_proj.weight' is [32, 16] in the file but [33, 16] in the config*restore the \"model\" section of {configPath}*");
    }
}
