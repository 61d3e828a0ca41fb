using LMHarness.Generation;

namespace LMHarness.Experiments;

/// <summary>The sampling knobs and the printed transcript that scripts/sample.csx and scripts/import.csx share.</summary>
public static class Sampling
{
    /// <summary>
    /// Reads <c>--max --temperature --top_k --top_p --min_p --penalty --stop (repeatable) --seed</c> into validated
    /// <see cref="SamplingOptions"/>; <c>\n</c> in a stop string is a newline.
    /// </summary>
    public static SamplingOptions Read(ScriptArgs a, int maxNewTokens) => new SamplingOptions
    {
        MaxNewTokens = a.Get("max", maxNewTokens, "tokens to generate"),
        Temperature = a.Get("temperature", 0.8, "softmax temperature; 0 = greedy"),
        TopK = a.Get("top_k", 0, "keep the k most probable tokens; 0 = off"),
        TopP = a.Get("top_p", 1.0, "nucleus: the fewest tokens reaching probability p; 1 = off"),
        MinP = a.Get("min_p", 0.0, "drop tokens below min_p x the top one's probability; 0 = off"),
        RepetitionPenalty = a.Get("penalty", 1.0, "CTRL repetition penalty; 1 = off"),
        StopStrings = a.All("stop", [], "stop when this text appears (\\n = newline)").Select(s => s.Replace("\\n", "\n")).ToList(),
        Seed = a.Get<long?>("seed", null, "the sampler's seed (default: a different draw each run)"),
    }.Validated();

    /// <summary>
    /// Generates from every prompt (one batch) and prints each as a coloured transcript (prompt, then continuation),
    /// streaming a single prompt token by token, with the token count and stop reason on stderr.
    /// </summary>
    public static IReadOnlyList<GenerationResult> Print(Generator generator, IReadOnlyList<string> prompts, SamplingOptions options, bool kvCache)
    {
        var transcript = ColouredTranscript.ForConsole();
        IReadOnlyList<GenerationResult> results;
        if (prompts.Count == 1)
        {
            transcript.Prompt(prompts[0]);
            results = generator.Generate(prompts, options, kvCache, (_, text) => transcript.Continuation(text));
            transcript.End();
            Console.Error.WriteLine(Ending(results[0]));
            return results;
        }
        results = generator.Generate(prompts, options, kvCache, null);
        foreach (var r in results)
        {
            transcript.Prompt(r.Prompt); transcript.Continuation(r.Text); transcript.End();
            Console.Error.WriteLine(Ending(r));
        }
        return results;
    }

    static string Ending(GenerationResult r) => $"[{r.Tokens.Count} tokens, stopped by {r.Reason}]";
}
