using System.Text.Json.Nodes;
using LMHarness.Config;
using LMHarness.Data;
using LMHarness.Interop;
using LMHarness.Model;
using LMHarness.Runs;
using LMHarness.Tests.Generation;
using LMHarness.Tests.Memory;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;
using LMHarness.Training;
using Xunit.Abstractions;

namespace LMHarness.Tests.Interop;

/// <summary>
/// Issue 27: loading a model never allocates more than its files hold. Every loader (HF Llama and GPT-2 folders, harness
/// exports, step_*.ckpt files and run folders) compares the config's tensors with the weights' header, and the model's
/// size with the memory the process may take, before it builds anything. The loads run in the fault child, whose memory
/// is watched from here (<see cref="ProbedLoads"/>): a loader that builds first grows past the watch and fails the test
/// instead of taking the machine. Remove the <c>WeightsFit.Check</c> call from a loader and its cases fail here.
/// </summary>
[Collection(nameof(GlobalTorchState))]
public class BoundedLoadingTests(ITestOutputHelper output) : IDisposable
{
    readonly TempDir dir = new();
    public void Dispose() => dir.Dispose();

    /// <summary>How far a load's resident peak may rise above the process before it: twice the files it reads, plus 48 MB for the runtime's own growth (JIT, the allocator's arenas, the sampler's first kernels).</summary>
    static double BoundMb(string folderOrFile) => 2 * SizeMb(folderOrFile) + 48;

    static double SizeMb(string path) => (File.Exists(path) ? new FileInfo(path).Length
        : Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length)) / (1024.0 * 1024.0);

    [Fact]
    public void Issue27_a_2_layer_llama_cpu_export_whose_config_json_says_65536_wide_and_64_layers_is_refused_before_anything_is_built()
    {
        var export = dir.File("llama-cpu-2L");
        using (var model = TinyModels.Build(Presets.Get("llama-cpu") with { NLayer = 2 }, 27))
            HfModel.Export(model, export, null);
        var config = Path.Combine(export, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        json["hidden_size"] = 65536; json["num_attention_heads"] = 2048; json["num_key_value_heads"] = 1024; json["head_dim"] = 32;
        json["num_hidden_layers"] = 64; json["intermediate_size"] = 262144;
        File.WriteAllText(config, json.ToJsonString());

        // What `sample.csx -- that-folder --max 5` does: ModelSource.Load, then 5 tokens.
        var result = ProbedLoads.Run([export], tokens: 5, dir.Path).Single();
        output.WriteLine($"{result.Error} (peak +{result.GrowthMb:N1} MB)");
        result.Loaded.Should().BeFalse();
        result.Type.Should().Be(nameof(InvalidDataException));
        result.Error.Should().Be($"{Path.Combine(export, "model.safetensors")} does not hold the model {config} describes: " +
            "tensor 'model.embed_tokens.weight' is [65, 128] in the file but [65, 65536] in the config " +
            "(the config describes 4.1e+12 parameters; the file holds 416,640, 1.6 MB); " +
            "fix config.json, or download (or export) the folder again so that config.json and model.safetensors come from one model.");
        result.Reset.Should().BeTrue("the kernel lets the probe restart its high-water mark");
        result.GrowthMb.Should().BeLessThan(BoundMb(export));
    }

    public static IEnumerable<object[]> Loaders() => [["hf-llama"], ["hf-gpt2"], ["harness-export"], ["checkpoint"]];

    [Theory]
    [MemberData(nameof(Loaders))]
    public void Every_loader_refuses_a_fuzz_of_config_edits_within_a_small_bound_of_its_files(string loader)
    {
        var (original, configFile, edits) = Fuzz(loader);
        var paths = new List<string> { original };   // first the unedited folder: it loads, and warms the runtime up
        foreach (var (edit, i) in edits.Select((e, i) => (e, i)))
        {
            var copy = dir.File($"case{i:D3}");
            CopyTree(original, copy);
            if (loader == "checkpoint")
            {
                var ckpt = new RunFolder(copy).LatestCheckpoint!;
                CheckpointEdit.EditState(ckpt, state => edit.ApplyTo(state["model"]!.AsObject()));
                paths.Add(i % 2 == 0 ? ckpt : copy);   // a step_*.ckpt by path, or the run folder that holds it
            }
            else
            {
                var path = Path.Combine(copy, configFile);
                var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
                edit.ApplyTo(json);
                File.WriteAllText(path, json.ToJsonString());
                paths.Add(copy);
            }
        }

        var results = ProbedLoads.Run(paths, tokens: 3, dir.Path);
        results[0].Loaded.Should().BeTrue("the unedited {0} loads: {1}", loader, results[0].Error);
        long parameters = results[0].Parameters;
        int refused = 0;
        foreach (var (edit, r) in edits.Zip(results.Skip(1)))
        {
            output.WriteLine($"{edit.Label,-50} {(r.Loaded ? "loaded" : r.Type),-28} +{r.GrowthMb,5:N1} MB  {r.Error}");
            r.GrowthMb.Should().BeLessThan(BoundMb(r.Path), "{0}: a load, refused or not, stays near its files' size", edit.Label);
            if (r.Loaded)
            {
                edit.MayLoad.Should().BeTrue("{0} changes the model, so it must be refused", edit.Label);
                r.Parameters.Should().Be(parameters, "{0} loaded, so it describes the same tensors", edit.Label);
                continue;
            }
            refused++;
            r.Type.Should().BeOneOf([nameof(InvalidDataException), nameof(NotSupportedException)], "{0}: {1}", edit.Label, r.Error);
            r.Error.Should().Contain(loader == "checkpoint" ? ".ckpt" : configFile, "the refusal of {0} names the file to fix", edit.Label)
                .And.NotContain("Exception", "messages name the problem, not the exception type");
        }
        refused.Should().BeGreaterThan(edits.Count * 3 / 4);
    }

    /// <summary>The unedited model's folder (or run folder), the config file the fuzz edits in copies of it, and the edits.</summary>
    (string Original, string ConfigFile, IReadOnlyList<ConfigEdit> Edits) Fuzz(string loader)
    {
        var folder = dir.File(loader);
        switch (loader)
        {
            case "hf-llama" or "hf-gpt2":
            {
                bool llama = loader == "hf-llama";
                using (var model = TinyModels.Build(llama ? TinyModels.Llama : TinyModels.Gpt2, 3)) HfModel.Export(model, folder, TokenizerIdentity.Bytes);
                var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "config.json")))!.AsObject();
                string[] fields = llama
                    ? ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "max_position_embeddings"]
                    : ["n_embd", "n_inner", "n_layer", "n_head", "vocab_size", "n_positions", "n_ctx"];
                var huge = llama
                    ? Sizes(("hidden_size", 65536), ("num_attention_heads", 2048), ("num_key_value_heads", 1024), ("head_dim", 32), ("num_hidden_layers", 64), ("intermediate_size", 262144))
                    : Sizes(("n_embd", 65536), ("n_head", 2048), ("n_layer", 64), ("n_inner", 262144));
                // A RoPE context has no tensor; head_dim null means hidden_size / heads, as written. GPT-2's heads split
                // c_attn without changing its shape, n_ctx gives way to n_positions, and n_positions null falls back to n_ctx.
                bool MayLoad(string f, JsonNode? v) => llama
                    ? (f == "max_position_embeddings" && ConfigFuzz.PositiveInt(v)) || (f == "head_dim" && v is null)
                    : (f == "n_ctx" && (ConfigFuzz.PositiveInt(v) || v is null)) || (f == "n_positions" && v is null)
                      || (f == "n_head" && ConfigFuzz.PositiveInt(v) && 32 % long.Parse(v!.ToJsonString()) == 0);
                return (folder, "config.json", ConfigFuzz.Edits(json, fields, huge, MayLoad));
            }
            case "harness-export":
            {
                // A model only the harness format expresses: differential and GQA layers, QK-norm, value embeddings.
                var config = TinyModels.Llama with { AttentionKinds = [AttentionKind.Gqa, AttentionKind.Differential], QkNorm = true, ValueEmbeddings = true };
                using (var model = TinyModels.Build(config, 4)) HarnessExport.Save(model, folder, TokenizerIdentity.Bytes);
                var json = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, HfModel.HarnessConfigFile)))!.AsObject();
                return (folder, HfModel.HarnessConfigFile, ConfigFuzz.Edits(json, HarnessFields, HarnessHuge, HarnessMayLoad));
            }
            default:
            {
                var training = TrainingFixtures.TinyTraining with { MaxSteps = 1, WarmupSteps = 0, GradFlowInterval = 0, EvalBatches = 1 };
                Trainer.Run(TinyModels.Llama, training, TrainingFixtures.TokenFile(dir.Path), folder);
                var state = LMHarness.Training.Checkpoints.Checkpoint.ReadState(new RunFolder(folder).LatestCheckpoint!);
                var json = JsonNode.Parse(state.Model.ToJson())!.AsObject();
                return (folder, RunFolder.ConfigFile, ConfigFuzz.Edits(json, HarnessFields, HarnessHuge, HarnessMayLoad));
            }
        }
    }

    static readonly string[] HarnessFields = ["d_model", "ffn_hidden", "n_layer", "n_head", "n_kv_head", "vocab_size", "context_length"];
    static readonly IReadOnlyDictionary<string, JsonNode?> HarnessHuge =
        Sizes(("d_model", 65536), ("n_head", 2048), ("n_kv_head", 1024), ("n_layer", 64), ("ffn_hidden", 262144));
    static bool HarnessMayLoad(string field, JsonNode? value) => field == "context_length" && ConfigFuzz.PositiveInt(value); // RoPE: no tensor

    static IReadOnlyDictionary<string, JsonNode?> Sizes(params (string Field, long Value)[] sizes) =>
        sizes.ToDictionary(s => s.Field, s => (JsonNode?)JsonValue.Create(s.Value));

    static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            if (file.EndsWith(".lock", StringComparison.Ordinal)) continue;
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
