using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LMHarness.Data;
using LMHarness.Tests.Data;
using LMHarness.Tests.Training;
using LMHarness.Tokenizers;
using Xunit.Abstractions;

namespace LMHarness.Tests.Integrity;

public class TokenFileIntegrityTests(ITestOutputHelper output)
{
    [Fact]
    public void Sidecar_records_the_sha256_of_the_ids_file_as_sha256sum_prints_it_and_Verify_checks_it()
    {
        using var dir = new TempDir();
        var path = TrainingFixtures.TokenFile(dir.Path);
        using var file = TokenFile.Open(path);
        file.Info.FormatVersion.Should().Be(2);
        file.Info.Sha256.Should().Be(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));
        var v = file.Verify();
        (v.Bytes, v.Sha256).Should().Be((8000L, file.Info.Sha256));
        TokenFile.Verify(path).Sha256.Should().Be(file.Info.Sha256);
    }

    [Fact]
    public void A_changed_id_that_stays_below_the_vocab_opens_but_Verify_refuses_it_naming_the_file()
    {
        using var dir = new TempDir();
        var path = TrainingFixtures.TokenFile(dir.Path);
        var bytes = File.ReadAllBytes(path);
        bytes[2 * 1234] ^= 0x01; // id k -> k xor 1: still a valid id of the 32-id vocab
        File.WriteAllBytes(path, bytes);

        using (var opened = TokenFile.Open(path)) opened.Count.Should().Be(4000, "what every open checks (size, sidecar, ids < vocab) cannot see this flip");
        FluentActions.Invoking(() => TokenFile.Verify(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"Token file {path} does not match the SHA-256 in its sidecar {path}.json*Prepare it again.");
    }

    [Fact]
    public void Format_1_sidecars_still_open_and_Verify_says_to_prepare_again_while_a_format_2_one_without_checksum_is_refused()
    {
        using var dir = new TempDir();
        var path = TrainingFixtures.TokenFile(dir.Path);
        var sidecar = TokenFileInfo.SidecarPath(path);
        var json = JsonNode.Parse(File.ReadAllText(sidecar))!.AsObject();
        json.Remove("sha256");
        File.WriteAllText(sidecar, json.ToJsonString());
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{sidecar} has no valid sha256*which format 2 requires*Prepare the token file again.");

        json["format_version"] = 1;
        File.WriteAllText(sidecar, json.ToJsonString());
        using (var old = TokenFile.Open(path)) old.Info.Sha256.Should().BeNull();
        FluentActions.Invoking(() => TokenFile.Verify(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"Token file {path} cannot be verified: its sidecar {sidecar} is format 1*Prepare it again*");

        json["format_version"] = 3;
        File.WriteAllText(sidecar, json.ToJsonString());
        FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>().WithMessage("*format version 3*reads versions 1 and 2*");
    }

    [Fact]
    public void A_killed_prepares_temp_files_are_removed_by_the_next_successful_prepare_and_a_live_ones_are_kept()
    {
        using var dir = new TempDir();
        var path = dir.File("t.bin");
        var dead = DeadPid();
        using var live = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        try
        {
            string[] deadTemps = [$"{path}.{dead}.tmp", $"{path}.json.{dead}.tmp"];
            var liveTemp = $"{path}.{live.Id}.tmp";
            foreach (var t in deadTemps.Append(liveTemp)) File.WriteAllBytes(t, new byte[6]);

            DataFixtures.WriteTokenFile(dir.Path, "t.bin", new CharTokenizer("ab").Identity, [0, 1, 0, 1], 0.25);
            foreach (var t in deadTemps) File.Exists(t).Should().BeFalse($"{t} belongs to a process that is gone");
            File.Exists(liveTemp).Should().BeTrue("a running process may still be writing it");
        }
        finally { live.Kill(); live.WaitForExit(); }
    }

    /// <summary>The pid of a process that has exited (and was reaped), so no process has it now.</summary>
    static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true"))!;
        p.WaitForExit();
        return p.Id;
    }

    [Fact]
    public void Fuzz_1000_truncations_and_byte_flips_of_the_ids_are_refused_by_Verify_and_truncations_already_at_open()
    {
        using var dir = TempDir.InMemory();
        var path = TrainingFixtures.TokenFile(dir.Path);
        var original = File.ReadAllBytes(path);
        int refusedAtOpen = 0, openedUnverified = 0;
        foreach (var c in Damage.Cases(original, 1000, seed: 13))
        {
            File.WriteAllBytes(path, c.Bytes);
            try
            {
                using var f = TokenFile.Open(path);
                // The documented gap: a flip that keeps every id below the vocab size opens; only Verify sees it.
                c.Truncated.Should().BeFalse($"{c.What} opened");
                openedUnverified++;
            }
            catch (InvalidDataException e)
            {
                e.Message.Should().Contain(path, c.What);
                refusedAtOpen++;
            }
            FluentActions.Invoking(() => TokenFile.Verify(path)).Should().Throw<InvalidDataException>($"{c.What} must fail verification").WithMessage($"*{path}*");
        }
        output.WriteLine($"token file fuzz: {refusedAtOpen} refused at open, {openedUnverified} opened (ids still < vocab) and refused by Verify; Verify refused all 1000");
        (refusedAtOpen + openedUnverified).Should().Be(1000);
        refusedAtOpen.Should().BeGreaterThan(500, "every truncation and most flips (an id >= 32) are refused at open");
        openedUnverified.Should().BeGreaterThan(0);

        File.WriteAllBytes(path, original);
        TokenFile.Verify(path).Bytes.Should().Be(original.Length);

        // Every truncation of the sidecar is refused too (it is JSON: a cut one never parses).
        var sidecar = TokenFileInfo.SidecarPath(path);
        var json = File.ReadAllBytes(sidecar);
        for (var n = 0; n < json.Length; n++)
        {
            File.WriteAllBytes(sidecar, json[..n]);
            FluentActions.Invoking(() => TokenFile.Open(path)).Should().Throw<InvalidDataException>($"a sidecar cut to {n} bytes").WithMessage($"*{sidecar}*");
        }
        File.WriteAllBytes(sidecar, json);
        TokenFile.Verify(path);
    }

    [Fact]
    public void A_token_count_that_overflows_back_into_the_file_size_is_refused_before_the_file_is_mapped()
    {
        // 2,000 uint32 ids (8,000 bytes). token_count 2^62 + 2,000 times 4 bytes is 8,000 modulo 2^64: a product
        // check passes it, and the file would claim 2^62 ids that every window and id scan reads past the mapping.
        using var dir = new TempDir();
        var path = dir.File("wide.bin");
        using (var w = new TokenFileWriter(path, new TokenizerIdentity(TokenizerKind.Cl100kBase, 100277)))
        {
            w.Write(Enumerable.Range(0, 2000).ToArray());
            w.Complete(0.1, 1, []);
        }
        var sidecar = TokenFileInfo.SidecarPath(path);
        var json = JsonNode.Parse(File.ReadAllText(sidecar))!.AsObject();
        long count = (1L << 62) + 2000, val = json["val_tokens"]!.GetValue<long>();
        json["token_count"] = count;
        json["train_tokens"] = count - val;
        File.WriteAllText(sidecar, json.ToJsonString());

        FluentActions.Invoking(() => TokenFile.Open(path, checkIds: false)).Should().Throw<InvalidDataException>()
            .WithMessage($"{sidecar} says token_count {count}, more uint32 ids than any file holds, but {path} has 8000 bytes: the sidecar is damaged. Prepare the token file again.");
    }
}
