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
        HfCheckpoint.Export(model, hf, TokenizerIdentity.Bytes);
        var loaded = ModelSource.Load(hf);
        loaded.Tokenizer.Should().Be(TokenizerIdentity.Bytes);
        loaded.Description.Should().StartWith("HF checkpoint");
        ModelSource.TokenizerFor(loaded, null).Identity.Should().Be(TokenizerIdentity.Bytes);

        var native = Path.Combine(dir, "native");
        NativeCheckpoint.Save(model, native, null);
        var n = ModelSource.Load(native);
        n.Description.Should().StartWith("harness export");
        var noTok = () => ModelSource.TokenizerFor(n, null);
        noTok.Should().Throw<ArgumentException>().WithMessage("*does not record its tokenizer*--tokenizer*");
        ModelSource.TokenizerFor(n, "bytes").VocabSize.Should().Be(256);
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
