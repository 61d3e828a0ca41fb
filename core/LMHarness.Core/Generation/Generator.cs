using LMHarness.Model;
using LMHarness.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace LMHarness.Generation;

/// <summary>
/// Autoregressive decoding: x_{t+1} ~ Sampler(logits(x_1..x_t)), repeated until max_new_tokens, a stop token or a
/// stop string. With the KV cache (<see cref="CausalLM.ForwardCached(Tensor, KVCache)"/>) the prompt is run once and each new token
/// costs one position, O(T) per step instead of O(T^2) for re-running the whole prefix (the uncached path, kept as
/// the reference the cache is tested against). Several prompts decode as one batch: prompts of different token
/// lengths are left-padded (<see cref="LeftPadding"/>: per-row positions and a mask that hides the filler), so each
/// row decodes as it would alone, and a row that stops keeps riding along until all rows are done. Text is streamed through a callback as it becomes final: bytes of an
/// unfinished UTF-8 character and any tail that could still grow into a stop string are held back.
/// Beyond the trained context the window slides: the uncached path keeps the last context_length tokens (nanoGPT),
/// the cached path refills its cache from the last half context. In a padded batch the window is counted in columns of
/// the longest row, so shorter rows slide at the same step as it does.
/// </summary>
public sealed class Generator
{
    readonly CausalLM model;
    readonly ITokenizer tokenizer;

    public Generator(CausalLM model, ITokenizer tokenizer)
    {
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new ArgumentException($"tokenizer {tokenizer.Identity} has {tokenizer.VocabSize} ids but the model's vocab_size is {model.Config.VocabSize}: use the tokenizer the model was trained with");
        this.model = model;
        this.tokenizer = tokenizer;
    }

    public CausalLM Model => model;
    public ITokenizer Tokenizer => tokenizer;

    /// <summary>Continues <paramref name="prompt"/> with the KV cache.</summary>
    public GenerationResult Generate(string prompt, SamplingOptions options) => Generate([prompt], options, true, null)[0];

    /// <summary>Continues <paramref name="prompt"/> with the KV cache, passing each piece of final text to <paramref name="onText"/> as it comes.</summary>
    public GenerationResult Generate(string prompt, SamplingOptions options, Action<string> onText) =>
        Generate([prompt], options, true, (_, s) => onText(s))[0];

    /// <summary>
    /// Continues <paramref name="prompt"/> with the KV cache, pushing each piece of final text to
    /// <paramref name="observer"/> (OnNext per piece, OnCompleted at the end, OnError on failure): the shape F#'s
    /// Observable module and Rx consume.
    /// </summary>
    public GenerationResult Generate(string prompt, SamplingOptions options, IObserver<string> observer)
    {
        try
        {
            var result = Generate([prompt], options, true, (_, s) => observer.OnNext(s))[0];
            observer.OnCompleted();
            return result;
        }
        catch (Exception e)
        {
            observer.OnError(e);
            throw;
        }
    }

    /// <summary>Continues several prompts as one left-padded batch with the KV cache.</summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<string> prompts, SamplingOptions options) => Generate(prompts, options, true, null);

    /// <summary>
    /// Continues several prompts; <paramref name="useCache"/> = false re-runs the whole prefix each step (the
    /// reference path). <paramref name="onText"/> receives (prompt index, new final text) and may be null.
    /// </summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<string> prompts, SamplingOptions options, bool useCache, Action<int, string>? onText)
    {
        var ids = prompts.Select(p => tokenizer.Encode(p)).ToList();
        var tokens = GenerateIds(ids, options, useCache, onText);
        return prompts.Select((p, i) => new GenerationResult(p, ids[i], tokens[i].Tokens, tokens[i].Text, tokens[i].Reason)).ToList();
    }

    /// <summary>Continues token-id prompts; returns each row's new ids, decoded text and stop reason.</summary>
    public IReadOnlyList<(IReadOnlyList<int> Tokens, string Text, StopReason Reason)> GenerateIds(
        IReadOnlyList<int[]> prompts, SamplingOptions options, bool useCache, Action<int, string>? onText)
    {
        options.Validated();
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new ArgumentException($"prompt {i} is empty: give at least one token (e.g. the end-of-text id) to condition on");
            foreach (var t in prompts[i])
                if (t < 0 || t >= model.Config.VocabSize) throw new ArgumentException($"prompt {i} holds token id {t}, outside the model's vocab [0, {model.Config.VocabSize})");
        }
        var results = new (IReadOnlyList<int>, string, StopReason)[prompts.Count];
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var sampler = new Sampler(options);
            using var _ = torch.no_grad();
            var outs = DecodeBatch(prompts.ToArray(), options, sampler, useCache, onText);
            for (int r = 0; r < outs.Length; r++) results[r] = outs[r];
        }
        finally
        {
            if (wasTraining) model.train();
        }
        return results;
    }

    (IReadOnlyList<int>, string, StopReason)[] DecodeBatch(int[][] prompts, SamplingOptions options, Sampler sampler, bool useCache, Action<int, string>? onText)
    {
        int batch = prompts.Length, ctx = model.Config.ContextLength;
        var device = model.parameters().First().device;
        var rows = prompts.Select(p => new RowState(options, tokenizer)).ToArray();
        using var seen = torch.zeros(batch, model.Config.VocabSize, ScalarType.Bool, device);
        // Shorter prompts are left-padded with their own first token, so the filler marks nothing new as seen.
        var (packed, padded) = LeftPadding.Pack(prompts, device);
        LeftPadding? padding = padded.IsEmpty ? null : padded;   // equal lengths keep the unpadded path
        using var history = new DisposableTensor(packed);
        using (var marks = torch.ones_like(history.Value, dtype: ScalarType.Bool)) seen.scatter_(1, history.Value, marks);
        using var cache = useCache ? NewCache(batch, prompts.Max(p => p.Length), options.MaxNewTokens, device) : null;
        long consumed = 0;   // history tokens already in the cache
        LeftPadding? cachePadding = null;   // the padding counted from the cache's first column

        // The padding of the columns from `start` on (a window drops filler first), or null when none is left.
        LeftPadding? PaddingFrom(long start) => padding?.Drop(start) is { IsEmpty: false } p ? p : null;

        Tensor Step()
        {
            using var scope = torch.NewDisposeScope();
            Tensor logits;
            long length = history.Value.shape[1];
            if (cache is null)
            {
                long start = Math.Max(0, length - ctx);
                var window = history.Value[.., (int)start..];
                logits = PaddingFrom(start) is { } p ? model.ForwardLast(window, p) : model.ForwardLast(window);
            }
            else
            {
                long fresh = length - consumed;
                if (consumed == 0 || cache.Position + fresh > ctx)
                {
                    // (Re)fill: the whole prompt, or the last half context once the cache would overflow.
                    cache.Reset();
                    long start = length > ctx ? length - ctx / 2 : 0;
                    cachePadding = PaddingFrom(start);
                    logits = model.ForwardCached(history.Value[.., (int)start..], cache, cachePadding)[.., -1];
                }
                else
                    logits = model.ForwardCached(history.Value[.., (int)consumed..], cache, cachePadding)[.., -1];
                consumed = length;
            }
            return logits.MoveToOuterDisposeScope();
        }

        for (int step = 0; step < options.MaxNewTokens && rows.Any(r => !r.Done); step++)
        {
            using var scope = torch.NewDisposeScope();
            var logits = Step();
            var next = sampler.Next(logits, seen);
            var nextIds = next.cpu().data<long>().ToArray();
            for (int r = 0; r < batch; r++)
            {
                if (rows[r].Done) continue;
                var piece = rows[r].Accept((int)nextIds[r]);
                if (piece.Length > 0) onText?.Invoke(r, piece);
            }
            seen.scatter_(1, next.unsqueeze(1), torch.ones(batch, 1, ScalarType.Bool, device));
            history.Value = torch.cat([history.Value, next.unsqueeze(1)], 1).DetachFromDisposeScope();
        }
        foreach (var (row, r) in rows.Select((x, i) => (x, i)))
        {
            var rest = row.Finish();
            if (rest.Length > 0) onText?.Invoke(r, rest);
        }
        return rows.Select(r => ((IReadOnlyList<int>)r.Tokens, r.Text, r.Reason)).ToArray();
    }

    /// <summary>
    /// A cache reserving the positions this generation can fill: the longest prompt plus the new tokens, never more than the
    /// context (the window slides there). On the CPU its full size is checked against the memory this process may take
    /// first, since both numbers come from outside (the flag and the config) and the buffers are zero-filled at once.
    /// </summary>
    KVCache NewCache(int batch, long longestPrompt, int maxNewTokens, Device device)
    {
        long positions = Math.Min(model.Config.ContextLength, longestPrompt + maxNewTokens);
        if (device.type == DeviceType.CPU)
            MachineMemory.Available().Ensure(model.CacheBytes(batch, positions),
                $"Generating up to {maxNewTokens:N0} tokens after a prompt of {longestPrompt:N0}",
                $"a KV cache of {positions:N0} positions x {batch} sequences x {model.Config.NLayer} layers",
                "ask for fewer tokens (--max), fewer prompts, or decode without the cache (--kv_cache false)");
        return model.NewCache(batch, positions);
    }

    /// <summary>A tensor slot that disposes the tensor it replaces.</summary>
    sealed class DisposableTensor(Tensor value) : IDisposable
    {
        Tensor value = value;
        public Tensor Value { get => value; set { if (!ReferenceEquals(value, this.value)) this.value.Dispose(); this.value = value; } }
        public void Dispose() => value.Dispose();
    }

    /// <summary>One row's output so far: accepted ids, stop detection, and how much text has been streamed.</summary>
    sealed class RowState(SamplingOptions options, ITokenizer tokenizer)
    {
        public List<int> Tokens { get; } = [];
        public bool Done { get; private set; }
        public StopReason Reason { get; private set; } = StopReason.MaxNewTokens;
        public string Text { get; private set; } = "";
        int emitted;

        /// <summary>Takes the next id; returns the newly final text.</summary>
        public string Accept(int id)
        {
            if (options.StopTokens.Contains(id)) { Done = true; Reason = StopReason.StopToken; return Flush(); }
            Tokens.Add(id);
            Text = tokenizer.Decode(Tokens);
            foreach (var s in options.StopStrings)
            {
                int at = Text.IndexOf(s, StringComparison.Ordinal);
                if (at >= 0)
                {
                    Text = Text[..at];
                    Done = true;
                    Reason = StopReason.StopString;
                    return Flush();
                }
            }
            // Hold back an unfinished UTF-8 character and any tail that may still become a stop string.
            int final = Text.Length;
            while (final > emitted && Text[final - 1] == '\uFFFD') final--;
            int hold = 0;
            foreach (var s in options.StopStrings)
                for (int k = Math.Min(s.Length - 1, final - emitted); k > hold; k--)
                    if (string.CompareOrdinal(Text, final - k, s, 0, k) == 0) { hold = k; break; }
            return Emit(final - hold);
        }

        public string Finish() { Done = true; return Flush(); }

        string Flush() => Emit(Text.Length);

        string Emit(int upTo)
        {
            if (upTo <= emitted) return "";
            var piece = Text[emitted..upTo];
            emitted = upTo;
            return piece;
        }
    }
}
