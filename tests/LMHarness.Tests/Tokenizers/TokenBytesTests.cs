using System.Text;
using LMHarness.Tokenizers;
using static TorchSharp.torch;

namespace LMHarness.Tests.Tokenizers;

public sealed class TokenBytesTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lmh-bytes-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ASCII, 2-byte (ï, é, ö), 3-byte (—, 日本語) and 4-byte (🙂, a surrogate pair in UTF-16) characters.
    const string Mixed = "naïve café — wörld 日本語 🙂 ok\n";

    [Fact]
    public void Char_tokens_of_ascii_are_one_byte_each()
    {
        const string text = "First Citizen:\nBefore we proceed any further, hear me speak.";
        var tok = CharTokenizer.FromText(text);
        tok.TokenByteLengths.Should().OnlyContain(l => l == 1);
        new TokenBytes(tok).Count(tok.Encode(text)).Should().Be(text.Length);
    }

    [Fact]
    public void Char_tokens_of_multibyte_text_sum_to_its_utf8_length()
    {
        var tok = CharTokenizer.FromDocuments([Mixed, "second document"]); // two documents: NUL is end of text
        var bytes = new TokenBytes(tok);
        Encoding.UTF8.GetByteCount(Mixed).Should().Be(42);
        bytes.Count(tok.Encode(Mixed)).Should().Be(42);
        tok.TokenByteLengths[tok.Encode("é")[0]].Should().Be(2);
        tok.TokenByteLengths[tok.Encode("日")[0]].Should().Be(3);
        tok.Encode("🙂").Select(id => tok.TokenByteLengths[id]).Should().Equal(2, 2); // the pair sums to 4
        tok.TokenByteLengths[tok.EndOfText].Should().Be(0, "the document separator stands for no text");
    }

    [Fact]
    public void Byte_tokens_are_one_byte_and_end_of_text_none()
    {
        var tok = new ByteTokenizer();
        new TokenBytes(tok).Count(tok.Encode(Mixed)).Should().Be(Encoding.UTF8.GetByteCount(Mixed));
        tok.TokenByteLengths[tok.EndOfText].Should().Be(0);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("cl100k_base")]
    [InlineData("o200k_base")]
    public void Bpe_ids_of_a_text_sum_to_its_utf8_length(string name)
    {
        var tok = TokenizerFactory.ByName(name);
        var bytes = new TokenBytes(tok);
        var text = Mixed + "First Citizen:\nBefore we proceed any further, hear me speak.\n\tcode(x) => x * 2; // 100%";
        var ids = tok.Encode(text);
        ids.Length.Should().BeLessThan(Encoding.UTF8.GetByteCount(text), "BPE merges bytes");
        bytes.Count(ids).Should().Be(Encoding.UTF8.GetByteCount(text));
        tok.TokenByteLengths.Should().HaveCount(tok.VocabSize);
        tok.TokenByteLengths[tok.EndOfText].Should().Be(0);
    }

    [Fact]
    public void Gpt2_token_lengths_are_those_of_known_tokens()
    {
        var tok = TokenizerFactory.ByName("gpt2");
        tok.Encode("Hello world").Should().Equal(15496, 995);
        tok.TokenByteLengths[15496].Should().Be(5); // "Hello"
        tok.TokenByteLengths[995].Should().Be(6);   // " world"
    }

    [Fact]
    public void Hf_bpe_tokens_count_their_bytes_and_special_tokens_none()
    {
        TinyHfBpe.Write(_dir);
        var tok = HfBpeTokenizer.Load(_dir);
        var text = "hello the how\né<|endoftext|>bell";
        var ids = tok.Encode(text);
        ids.Should().Contain(TinyHfBpe.Eot);
        new TokenBytes(tok).Count(ids).Should().Be(Encoding.UTF8.GetByteCount(text) - "<|endoftext|>".Length);
        tok.TokenByteLengths[258].Should().Be(4); // "Ġthe" = " the"
    }

    [Fact]
    public void Bits_per_byte_sum_nats_over_targets_with_text_and_divide_by_ln2_times_bytes()
    {
        // Bytes tokenizer: ids 'a' (1 byte), 0 = end of text (no text), 'b', 'c'. Nats 1.0, 5.0, 2.0, 3.0:
        // the separator's 5.0 is left out, so Σ nats = 6, Σ bytes = 3, bpb = 6 / (3 ln 2) = 2.88539.
        var bytes = new TokenBytes(new ByteTokenizer());
        using var nats = tensor(new float[] { 1, 5, 2, 3 }).view(2, 2);
        using var targets = tensor(new long[] { 'a', 0, 'b', 'c' }).view(2, 2);
        var (n, b) = bytes.Sum(nats, targets);
        n.Should().BeApproximately(6, 1e-12);
        b.Should().Be(3);
        TokenBytes.BitsPerByte(n, b).Should().BeApproximately(6 / (3 * Math.Log(2)), 1e-12);
        TokenBytes.BitsPerByte(1, 0).Should().Be(double.NaN);
        using var ignored = tensor(new long[] { 'a', -100, 'b', 'c' }).view(2, 2);
        bytes.Sum(nats, ignored).Should().Be((6.0, 3L), "an ignore index stands for no text");
    }

    [Fact]
    public void Byte_lengths_come_from_a_stored_identity_and_are_absent_when_it_cannot_be_rebuilt()
    {
        var gpt2 = TokenBytes.For(System.Text.Json.Nodes.JsonNode.Parse(TokenizerIdentity.Gpt2.ToJson()));
        gpt2!.Lengths[15496].Should().Be(5);
        TokenBytes.For(null).Should().BeNull();
        TokenBytes.For(System.Text.Json.Nodes.JsonNode.Parse(new TokenizerIdentity(TokenizerKind.Char, 3, "cba").ToJson())).Should().BeNull("an unsorted char table is no tokenizer");
        TokenBytes.For(System.Text.Json.Nodes.JsonNode.Parse(new TokenizerIdentity(TokenizerKind.HfBpe, 10, Source: Path.Combine(_dir, "gone"), Sha256: "00").ToJson()))
            .Should().BeNull("the tokenizer's folder is gone");
    }
}
