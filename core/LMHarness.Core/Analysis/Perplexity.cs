using LMHarness.Model;
using LMHarness.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Analysis;

/// <summary>Mean negative log-likelihood of a text (nats/token) and its perplexity exp(NLL), over how many predicted tokens.</summary>
public sealed record PerplexityResult(double MeanNll, double Perplexity, long Tokens);

/// <summary>The loss the model assigns to one token of a prompt: -log p(token | the tokens before it).</summary>
public sealed record TokenLoss(int Position, int Token, string Text, double Loss);

/// <summary>
/// Perplexity PPL = exp(-(1/N) sum_t log p(x_t | x_&lt;t)) of a checkpoint on a text (Jelinek et al. 1977), computed
/// over consecutive non-overlapping windows of context_length + 1 tokens (each window predicts its last
/// context_length tokens from the ones before, so every token after the first is predicted exactly once), and the
/// per-token losses of a prompt. Inference only; the model's train/eval mode is restored afterwards.
/// </summary>
public static class Perplexity
{
    /// <summary>Perplexity of <paramref name="model"/> on <paramref name="text"/>, in windows of up to <paramref name="batch"/> rows.</summary>
    public static PerplexityResult OfText(CausalLM model, ITokenizer tokenizer, string text, int batch)
    {
        var ids = tokenizer.Encode(text);
        if (ids.Length < 2) throw new ArgumentException($"the text encodes to {ids.Length} token(s); perplexity needs at least 2 (one to condition on, one to predict)");
        int t = model.Config.ContextLength;
        var device = model.parameters().First().device;
        double nll = 0;
        long count = 0;
        var windows = new List<long[]>();
        for (int start = 0; start < ids.Length - 1; start += t)
            windows.Add(ids[start..Math.Min(ids.Length, start + t + 1)].Select(x => (long)x).ToArray());
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = torch.no_grad();
            // Full windows batch together; the last (shorter) one runs on its own.
            foreach (var group in windows.GroupBy(w => w.Length))
                foreach (var chunk in group.Chunk(Math.Max(1, batch)))
                {
                    using var scope = torch.NewDisposeScope();
                    int len = chunk[0].Length;
                    var all = torch.tensor(chunk.SelectMany(w => w).ToArray(), [chunk.Length, len], device: device);
                    var logits = model.forward(all[.., ..^1]);
                    nll += LanguageModelLoss.Sum(logits, all[.., 1..]).to(ScalarType.Float64).item<double>();
                    count += chunk.Length * (len - 1);
                }
        }
        finally
        {
            if (wasTraining) model.train();
        }
        double mean = nll / count;
        return new PerplexityResult(mean, Math.Exp(mean), count);
    }

    /// <summary>Perplexity of <paramref name="model"/> on a UTF-8 text file.</summary>
    public static PerplexityResult OfFile(CausalLM model, ITokenizer tokenizer, string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"text file not found: {path}", path);
        var text = File.ReadAllText(path);
        if (text.Length == 0) throw new InvalidDataException($"{path} is empty: perplexity needs text to score");
        return OfText(model, tokenizer, text, 8);
    }

    /// <summary>-log p(x_t | x_&lt;t) for every token t >= 1 of <paramref name="prompt"/> (the first has no context and is skipped).</summary>
    public static IReadOnlyList<TokenLoss> PerToken(CausalLM model, ITokenizer tokenizer, string prompt)
    {
        var ids = tokenizer.Encode(prompt);
        int t = model.Config.ContextLength;
        if (ids.Length < 2) throw new ArgumentException($"the prompt encodes to {ids.Length} token(s); per-token loss needs at least 2");
        if (ids.Length > t + 1) throw new ArgumentException($"the prompt is {ids.Length} tokens; per-token loss covers at most context_length + 1 = {t + 1} (use OfText for long texts)");
        var device = model.parameters().First().device;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var _ = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            var all = torch.tensor(ids.Select(x => (long)x).ToArray(), [1, ids.Length], device: device);
            var logits = model.forward(all[.., ..^1]);
            var losses = LanguageModelLoss.PerPosition(logits, all[.., 1..])[0].to(ScalarType.Float64).cpu().data<double>().ToArray();
            return losses.Select((l, i) => new TokenLoss(i + 1, ids[i + 1], tokenizer.Decode([ids[i + 1]]), l)).ToList();
        }
        finally
        {
            if (wasTraining) model.train();
        }
    }
}
