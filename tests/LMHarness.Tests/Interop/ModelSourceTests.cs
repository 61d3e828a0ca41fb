using LMHarness.Interop;
using LMHarness.Tests.Generation;
using LMHarness.Tokenizers;
using TorchSharp;

namespace LMHarness.Tests.Interop;

public class ModelSourceTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lmh-src-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Loads_hf_and_native_folders_with_their_tokenizer()
    {
        var model = TinyModels.Build(TinyModels.Llama, 30);
        var hf = Path.Combine(dir, "hf");
        HfModel.Export(model, hf, TokenizerIdentity.Bytes);
        var loaded = ModelSource.Load(hf);
        loaded.Tokenizer.Should().Be(TokenizerIdentity.Bytes);
        loaded.Description.Should().StartWith("HF checkpoint");
        ModelSource.TokenizerFor(loaded, null).Identity.Should().Be(TokenizerIdentity.Bytes);

        var native = Path.Combine(dir, "native");
        HarnessExport.Save(model, native, null);
        var n = ModelSource.Load(native);
        n.Description.Should().StartWith("harness export");
        var noTok = () => ModelSource.TokenizerFor(n, null);
        noTok.Should().Throw<ArgumentException>().WithMessage("*does not record its tokenizer*--tokenizer*");
        ModelSource.TokenizerFor(n, "bytes").VocabSize.Should().Be(256);
    }

    [Fact]
    public void Hf_folder_with_tokenizer_json_loads_that_tokenizer_and_its_eos()
    {
        var model = TinyModels.Build(TinyModels.Llama with { VocabSize = LMHarness.Tests.Tokenizers.TinyHfBpe.VocabSize }, 31);
        var hf = Path.Combine(dir, "smol");
        HfModel.Export(model, hf, null);
        File.Exists(Path.Combine(hf, HfModel.TokenizerFile)).Should().BeFalse("a downloaded folder has no harness identity");
        LMHarness.Tests.Tokenizers.TinyHfBpe.Write(hf);
        // No tokenizer_config.json: eos comes from config.json's eos_token_id (here <|im_start|>, to tell the sources apart).
        File.Delete(Path.Combine(hf, "tokenizer_config.json"));
        var cfg = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(hf, "config.json")))!;
        cfg["eos_token_id"] = LMHarness.Tests.Tokenizers.TinyHfBpe.ImStart;
        File.WriteAllText(Path.Combine(hf, "config.json"), cfg.ToJsonString());

        var loaded = ModelSource.Load(hf);
        loaded.Tokenizer!.Kind.Should().Be(TokenizerKind.HfBpe);
        loaded.Tokenizer.Source.Should().Be(Path.GetFullPath(hf));
        loaded.Tokenizer.VocabSize.Should().Be(LMHarness.Tests.Tokenizers.TinyHfBpe.VocabSize);
        var tok = ModelSource.TokenizerFor(loaded, null);
        tok.Encode("hello the").Should().Equal(256, 259, 'o', 258);
        tok.EndOfText.Should().Be(LMHarness.Tests.Tokenizers.TinyHfBpe.ImStart);

        // Re-exporting (HF and native) copies tokenizer.json so the export stands alone, with the same hash.
        var again = Path.Combine(dir, "again");
        HfModel.Export(loaded.Model, again, loaded.Tokenizer);
        File.ReadAllBytes(Path.Combine(again, "tokenizer.json")).Should().Equal(File.ReadAllBytes(Path.Combine(hf, "tokenizer.json")));
        var reloaded = ModelSource.Load(again).Tokenizer!;
        reloaded.Should().Be(loaded.Tokenizer with { Source = Path.GetFullPath(again) });
        reloaded.Matches(loaded.Tokenizer).Should().BeTrue();
        var native = Path.Combine(dir, "native");
        HarnessExport.Save(loaded.Model, native, loaded.Tokenizer);
        Directory.Delete(hf, recursive: true);
        ModelSource.TokenizerFor(ModelSource.Load(native), null).Encode("hello the").Should().Equal(256, 259, 'o', 258);

        // A tokenizer larger than the model's embedding table cannot be right: refused naming both sizes.
        var small = new LoadedModel(TinyModels.Build(TinyModels.Llama, 32), reloaded, "small");
        FluentActions.Invoking(() => ModelSource.TokenizerFor(small, null)).Should().Throw<InvalidDataException>().WithMessage("*264*256*");
    }

    [Fact]
    public void Unknown_paths_are_refused_naming_what_is_accepted()
    {
        var act = () => ModelSource.Load(Path.Combine(dir, "missing"));
        act.Should().Throw<FileNotFoundException>().WithMessage("*run folder*checkpoints/step_*.ckpt*HF checkpoint folder*");
        var empty = () => ModelSource.Load(dir);
        empty.Should().Throw<FileNotFoundException>().WithMessage("*neither a run folder*");
    }
}
