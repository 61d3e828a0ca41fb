using System.Text.Json.Serialization;

namespace LMHarness.Tokenizers;

/// <summary>The tokenizer families LMHarness can rebuild from a <see cref="TokenizerIdentity"/>.</summary>
[JsonConverter(typeof(NamedEnumConverter<TokenizerKind>))]
public enum TokenizerKind
{
    /// <summary>GPT-2 byte-level BPE (Radford et al. 2019): 50,257 ids, end of text 50256.</summary>
    Gpt2,
    /// <summary>OpenAI cl100k_base BPE (GPT-3.5/4).</summary>
    Cl100kBase,
    /// <summary>OpenAI o200k_base BPE (GPT-4o).</summary>
    O200kBase,
    /// <summary>One id per character of a table built from the corpus (nanoGPT shakespeare_char).</summary>
    Char,
    /// <summary>One id per UTF-8 byte: 256 ids; NUL (0) is end of text.</summary>
    Bytes,
    /// <summary>Byte-level BPE from an HF checkpoint folder (tokenizer.json), e.g. SmolLM: see <see cref="HfBpeTokenizer"/>.</summary>
    HfBpe,
}
