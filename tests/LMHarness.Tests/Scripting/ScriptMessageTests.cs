using LMHarness.Data;
using LMHarness.Model;
using LMHarness.Scripting;
using LMHarness.Tests.Training;
using LMHarness.Training;

namespace LMHarness.Tests.Scripting;

/// <summary>The real scripts under scripts/, run in-process as `./lmh` runs them, on bad input.</summary>
public class ScriptMessageTests
{
    static string Script(string name) => Path.Combine(RepoPaths.Root, "scripts", name);

    /// <summary>Runs a script capturing what it prints and its errors.</summary>
    static (int Code, string Out, string Errors) Run(string script, params string[] args)
    {
        var errors = new StringWriter();
        var output = new StringWriter();
        var stdout = Console.Out;
        var stderr = Console.Error;
        Console.SetOut(output);
        Console.SetError(errors);
        try { return (ScriptRunner.Run(script, args, errors), output.ToString(), errors.ToString()); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
    }

    /// <summary>Two steps of the tiny model on ids whose sidecar names a real char table (sorted, 32 chars), so sample.csx can decode.</summary>
    static string TrainedRun(TempDir dir)
    {
        var tokens = dir.File("chars.bin");
        using (var w = new TokenFileWriter(tokens, new LMHarness.Tokenizers.CharTokenizer(" !,.;?abcdefghijklmnopqrstuvwxyz").Identity))
        {
            w.Write(Enumerable.Range(0, 2000).Select(i => i % 32).ToArray());
            w.Complete(0.1, 1, []);
        }
        var t = TrainingFixtures.TinyTraining with { MaxSteps = 2, WarmupSteps = 0, GradFlowInterval = 0 };
        using var data = TokenFileBatches.Open(tokens, t);
        new Trainer(TrainingFixtures.TinyModel, t, data, dir.File("run"), c => new CausalLM(c)).Train();
        return dir.File("run");
    }

    [Fact]
    public void Sample_refuses_a_character_the_tokenizer_lacks_before_echoing_the_prompt_and_import_on_a_run_folder_points_to_sample()
    {
        using var dir = new TempDir();
        var run = TrainedRun(dir);

        var (code, output, errors) = Run(Script("sample.csx"), run, "--prompt", "Zebra", "--max", "3");
        code.Should().Be(1);
        errors.Should().Contain("Character 'Z' U+005A at position 0 is not in this char table (32 chars)");
        output.Should().NotContain("Zebra", "nothing is echoed before the prompt is known to encode");

        (code, output, errors) = Run(Script("sample.csx"), run, "--prompt", "zebra", "--max", "3", "--seed", "1");
        (code, errors).Should().Be((0, errors));
        output.Should().StartWith("zebra", "an encodable prompt is echoed, then continued");

        (code, _, errors) = Run(Script("import.csx"), run);
        code.Should().Be(1);
        errors.Should().Contain($"{run} is an LMHarness run folder, not an HF checkpoint: sample from it with `dotnet script scripts/sample.csx -- {run}`");
    }

    [Fact]
    public void Prepare_verify_checks_a_token_file_against_its_sidecar_and_names_a_damaged_one()
    {
        using var dir = new TempDir();
        var path = TrainingFixtures.TokenFile(dir.Path);
        var (code, output, errors) = Run(Script("prepare.csx"), "--verify", path);
        (code, errors).Should().Be((0, ""));
        output.Should().Contain($"{path}: 8,000 bytes match SHA-256 {TokenFile.Verify(path).Sha256}");

        var bytes = File.ReadAllBytes(path);
        bytes[100] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        (code, _, errors) = Run(Script("prepare.csx"), "--verify", path);
        code.Should().Be(1);
        errors.Should().Contain($"Token file {path} does not match the SHA-256 in its sidecar");
    }

    [Fact]
    public void Train_refuses_a_number_for_a_name_and_a_binary_corpus_in_one_sentence_that_names_the_flag_or_file_and_writes_nothing()
    {
        using var dir = new TempDir();
        var tokens = TrainingFixtures.TokenFile(dir.Path);
        var run = dir.File("runs/x");
        var (code, _, errors) = Run(Script("train.csx"), "--data", tokens, "--position", "7", "--out", run);
        code.Should().Be(1);
        errors.TrimEnd().Should().NotContain("\n", "one line")
            .And.Contain("--position 7").And.Contain("must be one of learned, rope, none, not 7")
            .And.NotContain("Exception").And.NotContain("LineNumber");
        Directory.Exists(dir.File("runs")).Should().BeFalse("a refused run creates no folder");

        (code, _, errors) = Run(Script("train.csx"), "--data", "/usr/bin/ls", "--out", run);
        code.Should().Be(1);
        errors.Should().Contain("/usr/bin/ls").And.Contain("has no text: a binary file (NUL bytes in the first 8 KB) skipped").And.NotContain("The corpus is empty").And.NotContain("Exception");
        Directory.Exists(dir.File("runs")).Should().BeFalse();
    }
}
