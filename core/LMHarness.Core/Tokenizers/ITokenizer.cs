namespace LMHarness.Tokenizers;

/// <summary>
/// Maps text to integer token ids in [0, <see cref="VocabSize"/>) and back. Every tokenizer can be rebuilt from its
/// <see cref="Identity"/> alone (<see cref="TokenizerFactory.Create"/>), which is what token files and checkpoints store.
/// </summary>
public interface ITokenizer
{
    /// <summary>What this tokenizer is (kind, vocab size, char table): stored with token files and checkpoints.</summary>
    TokenizerIdentity Identity { get; }
    int VocabSize { get; }
    /// <summary>Id written between documents; -1 when this tokenizer has none (a char table built from one document).</summary>
    int EndOfText { get; }
    /// <summary>
    /// The UTF-8 byte length of the text each id stands for (index = id), so bits per byte can be scored
    /// (<see cref="TokenBytes"/>); 0 for ids that stand for no text: end of text, special tokens, unused ids.
    /// </summary>
    IReadOnlyList<int> TokenByteLengths { get; }
    int[] Encode(string text);
    string Decode(IReadOnlyList<int> ids);
}
