using LMHarness.Tests.Data;
using LMHarness.Tokenizers;
using LMHarness.Corpora;

namespace LMHarness.Tests.Tokenizers;

public class TokenizerTests
{
    const string Mixed = "Hello, world! It's 2024 — naïve café, 東京 and emoji 🎉.\n\n  Tabs\tand  spaces   end  \n";

    [Fact]
    public void CharTokenizerOfTinyShakespeareHas65SymbolsAndRoundTrips()
    {
        var text = DataFixtures.TinyShakespeare;
        var tok = CharTokenizer.FromText(text);
        tok.VocabSize.Should().Be(65);
        tok.EndOfText.Should().Be(-1, "one document needs no separator, keeping nanoGPT's 65-symbol table");
        tok.Table[0].Should().Be('\n');
        tok.Table.Should().Contain("ABC").And.Contain("xyz");
        var ids = tok.Encode(text);
        ids.Length.Should().Be(text.Length);
        tok.Decode(ids).Should().Be(text);
    }

    [Fact]
    public void CharTokenizerOfSeveralDocumentsReservesNulAsEndOfText()
    {
        var tok = CharTokenizer.FromDocuments(["ba", "ca"]);
        tok.Table.Should().Be("\0abc");
        tok.EndOfText.Should().Be(0);
        tok.Encode("cab").Should().Equal(3, 1, 2);
        tok.Decode([3, 1, 2, 0]).Should().Be("cab\0");
    }

    [Fact]
    public void CharTokenizerRefusesUnknownCharacterNamingIt()
    {
        var tok = CharTokenizer.FromText("abc");
        var act = () => tok.Encode("abz");
        act.Should().Throw<ArgumentException>().WithMessage("*U+007A*position 2*");
    }

    [Fact]
    public void ByteTokenizerRoundTripsUtf8()
    {
        var tok = new ByteTokenizer();
        var ids = tok.Encode(Mixed);
        ids.Length.Should().Be(System.Text.Encoding.UTF8.GetByteCount(Mixed));
        ids.Should().OnlyContain(i => i >= 0 && i < 256);
        tok.Decode(ids).Should().Be(Mixed);
        tok.VocabSize.Should().Be(256);
        tok.EndOfText.Should().Be(0);
    }

    [Theory]
    [InlineData("gpt2", 50257, 50256)]
    [InlineData("cl100k_base", 100277, 100257)]
    [InlineData("o200k_base", 200019, 199999)]
    public void TiktokenTokenizersRoundTripAndKnowTheirEndOfText(string name, int vocab, int eot)
    {
        var tok = TokenizerFactory.ByName(name);
        tok.VocabSize.Should().Be(vocab);
        tok.EndOfText.Should().Be(eot);
        tok.Decode([eot]).Should().Be("<|endoftext|>");
        var ids = tok.Encode(Mixed);
        ids.Should().OnlyContain(i => i >= 0 && i < vocab);
        tok.Decode(ids).Should().Be(Mixed);
    }

    [Fact]
    public void Gpt2KnownIds()
    {
        // "Hello world" in GPT-2 is [15496, 995] (tiktoken / HF gpt2).
        TokenizerFactory.ByName("gpt2").Encode("Hello world").Should().Equal(15496, 995);
    }

    [Fact]
    public void Gpt2FastPathMatchesLibraryOnTinyShakespeareAndUnicode()
    {
        var tok = (TiktokenBpe)TokenizerFactory.ByName("gpt2");
        var text = DataFixtures.TinyShakespeare;
        var fast = tok.Encode(text);
        fast.Should().Equal(tok.Inner.EncodeToIds(text));
        fast.Length.Should().Be(338025, "nanoGPT's prepare.py reports 301,966 train + 36,059 val tokens");
        string[] edge =
        [
            Mixed, "  leading", "trailing   ", "a\n\n\nb", "x \t y", "''s 's 'S 'll've 're'd", "?'s !!!  ...", "1234 56.7 Ⅻ ½",
            "\u00a0nbsp\u2003em", "\r\n\r\n", " ", "", "🎉🎉 x", "don't I'M", "a  \n  b",
        ];
        foreach (var s in edge)
            tok.Encode(s).Should().Equal(tok.Inner.EncodeToIds(s), $"text \"{s}\"");
    }

    [Fact]
    public void Gpt2FastPathMatchesLibraryOnRandomMixedScriptText()
    {
        // Seeded soup of Latin/Greek/CJK/Arabic letters, digits, punctuation, apostrophes, every kind of
        // whitespace, combining marks and emoji (surrogate pairs): exercises the scanner and the byte merges.
        string[] atoms = ["a", "Z", "é", "ß", "λ", "Ж", "東", "ع", "7", "٣", "½", "'", "'s", "'ll", "!", "?", "—", "\"", "(", " ", "  ", "\t", "\n", "\r\n",
            "\u00a0", "\u2003", "\u0301", "🎉", "👍🏽", "x", "the", " the", "ing", "<|endoftext|>"];
        var rng = new Random(42);
        var tok = (TiktokenBpe)TokenizerFactory.ByName("gpt2");
        for (int doc = 0; doc < 20; doc++)
        {
            var sb = new System.Text.StringBuilder();
            for (int i = 0; i < 2000; i++) sb.Append(atoms[rng.Next(atoms.Length)]);
            var text = sb.ToString().Replace("<|endoftext|>", "<|end|>"); // the library treats the literal as special
            tok.Encode(text).Should().Equal(tok.Inner.EncodeToIds(text), $"document {doc}");
            tok.Decode(tok.Encode(text)).Should().Be(text);
        }
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("bytes")]
    [InlineData("cl100k_base")]
    public void CreateRebuildsFromIdentity(string name)
    {
        var tok = TokenizerFactory.ByName(name);
        var json = tok.Identity.ToJson();
        var rebuilt = TokenizerFactory.Create(TokenizerIdentity.FromJson(json));
        rebuilt.Identity.Should().Be(tok.Identity);
        rebuilt.Encode(Mixed).Should().Equal(tok.Encode(Mixed));
    }

    [Fact]
    public void CharIdentityRoundTripsThroughJsonWithItsTable()
    {
        var tok = CharTokenizer.FromDocuments(["hello", "world\n"]);
        var id = TokenizerIdentity.FromJson(tok.Identity.ToJson());
        id.Should().Be(tok.Identity);
        id.CharTable.Should().Be("\0\ndehlorw");
        TokenizerFactory.Create(id).Decode(tok.Encode("hello\nworld")).Should().Be("hello\nworld");
    }

    [Fact]
    public void MismatchIsRefusedWithBothNames()
    {
        var a = CharTokenizer.FromText("abc").Identity;
        var b = CharTokenizer.FromText("abd").Identity;
        a.Matches(b).Should().BeFalse();
        a.Matches(CharTokenizer.FromText("cba").Identity).Should().BeTrue();
        var act = () => a.EnsureMatches(b, "tokens.bin");
        act.Should().Throw<InvalidDataException>().WithMessage("*tokens.bin*char (3 ids*");
        var act2 = () => TokenizerIdentity.Gpt2.EnsureMatches(TokenizerIdentity.Bytes, "ckpt");
        act2.Should().Throw<InvalidDataException>().WithMessage("*ckpt*gpt2 (50257 ids)*bytes (256 ids)*");
    }

    [Fact]
    public void ByNameRefusesUnknownAndExplainsChar()
    {
        FluentActions.Invoking(() => TokenizerFactory.ByName("llama")).Should().Throw<ArgumentException>().WithMessage("*llama*gpt2*");
        FluentActions.Invoking(() => TokenizerFactory.ByName("char")).Should().Throw<ArgumentException>().WithMessage("*CharTokenizer*");
    }
}
