using LMHarness.Experiments;
using LMHarness.Scripting;

namespace LMHarness.Tests.Scripting;

/// <summary>`--help` of train.csx lists --init_from and --freeze, and that of prepare.csx --tokenizer_from (each comes
/// from one declaration: init_from and freeze are TrainingConfig fields, so every field knob lists them, freeze though
/// it is not written while unset).</summary>
[Collection(UpstreamCollection.Name)] // Console.SetOut and ScriptArgs.Exit are process-wide
public sealed class InitFromHelpTests
{
    [Fact]
    public void Train_and_prepare_list_their_pretrained_model_knobs_in_help()
    {
        var original = (ScriptArgs.Exit, Console.Out);
        ScriptArgs.Exit = code => throw new OperationCanceledException($"--help ended the script with exit code {code}");
        try
        {
            foreach (var (script, knob) in new[] { ("scripts/train.csx", "init_from"), ("scripts/train.csx", "freeze"), ("scripts/train.csx", "parametrization"), ("scripts/prepare.csx", "tokenizer_from") })
            {
                var output = new StringWriter();
                Console.SetOut(output);
                ScriptRunner.Run(Path.Combine(RepoPaths.Root, script), ["--help"], new StringWriter());
                Console.SetOut(original.Out);
                output.ToString().Should().MatchRegex($@"(?m)^  --{knob}\s", script);
            }
        }
        finally
        {
            (ScriptArgs.Exit, _) = original;
            Console.SetOut(original.Out);
        }
    }
}
