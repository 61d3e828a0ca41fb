using LMHarness.Native;
using TorchSharp;

namespace LMHarness.Tests.Native;

public class NativeLoadTests
{
    static string Wrapper => Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");

    [Fact]
    public void Torch_computes_after_the_loader_ran()
    {
        using var a = torch.arange(6, dtype: torch.float32).reshape(2, 3);
        using var s = a.sum();
        s.item<float>().Should().Be(15f);
    }

    [Fact]
    public void Real_wrapper_requires_glibcxx_3_4_32_from_libstdcxx()
    {
        var needs = ElfVersionNeeds.ReadNeeds(File.ReadAllBytes(Wrapper), Wrapper);
        needs.Should().Contain(n => n.File == "libstdc++.so.6" && n.Name == "GLIBCXX_3.4.32" && !n.IsWeak);
        needs.Should().Contain(n => n.File == "libc.so.6" && n.Name == "GLIBC_2.2.5");
    }

    [Fact]
    public void Marking_weak_changes_only_the_named_flag_bytes()
    {
        var original = File.ReadAllBytes(Wrapper);
        var patched = ElfVersionNeeds.MarkWeak(original, Wrapper, ["GLIBCXX_3.4.32"]);
        var changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToList();
        changed.Should().ContainSingle("only the low byte of one vna_flags field gains VER_FLG_WEAK");
        var after = ElfVersionNeeds.ReadNeeds(patched, "patched");
        after.Single(n => n.Name == "GLIBCXX_3.4.32").IsWeak.Should().BeTrue();
        after.Where(n => n.Name != "GLIBCXX_3.4.32").Should().OnlyContain(n => !n.IsWeak);
    }

    [Fact]
    public void Missing_versions_against_a_libstdcxx_that_defines_everything_is_empty()
    {
        var wrapper = File.ReadAllBytes(Wrapper);
        // A libstdc++ whose version definitions are exactly the wrapper's needs: nothing is missing.
        var host = FindHostLibStdCxx();
        var defined = ElfVersionNeeds.ReadDefinitions(File.ReadAllBytes(host), host);
        defined.Should().Contain("GLIBCXX_3.4");
        var missing = NativeLoader.MissingVersions(wrapper, Wrapper, File.ReadAllBytes(host), host);
        missing.Should().OnlyContain(v => !defined.Contains(v));
        if (!defined.Contains("GLIBCXX_3.4.32"))
        {
            missing.Should().Equal("GLIBCXX_3.4.32");
            NativeLoader.PatchedLibraryPath.Should().NotBeNull().And.Match(p => File.Exists(p));
        }
        else
        {
            missing.Should().BeEmpty();
            NativeLoader.PatchedLibraryPath.Should().BeNull();
        }
        // The patched copy itself needs nothing the host lacks.
        var patched = ElfVersionNeeds.MarkWeak(wrapper, Wrapper, missing.DefaultIfEmpty("GLIBCXX_3.4").Distinct());
        NativeLoader.MissingVersions(patched, "patched", File.ReadAllBytes(host), host).Should().BeEmpty();
    }

    [Fact]
    public void Not_an_elf_is_refused_clearly()
    {
        var act = () => ElfVersionNeeds.ReadNeeds("hello, this is text and not a shared object at all......................"u8.ToArray(), "notes.txt");
        act.Should().Throw<InvalidDataException>().WithMessage("notes.txt is not an ELF file*");
    }

    [Fact]
    public void Truncated_elf_is_refused_clearly()
    {
        var bytes = File.ReadAllBytes(Wrapper)[..4096];
        var act = () => ElfVersionNeeds.ReadNeeds(bytes, "cut.so");
        act.Should().Throw<InvalidDataException>().WithMessage("cut.so is truncated*");
    }

    [Fact]
    public void Elf_without_version_section_is_refused_clearly()
    {
        var bytes = File.ReadAllBytes(Wrapper);
        // Rewrite the type of the .gnu.version_r section header so no section claims to be one.
        long shoff = BitConverter.ToInt64(bytes, 0x28);
        int shentsize = BitConverter.ToUInt16(bytes, 0x3a), shnum = BitConverter.ToUInt16(bytes, 0x3c);
        for (int i = 0; i < shnum; i++)
        {
            int typeAt = (int)(shoff + i * shentsize + 4);
            if (BitConverter.ToUInt32(bytes, typeAt) == 0x6ffffffe) BitConverter.GetBytes(1u).CopyTo(bytes, typeAt);
        }
        var act = () => ElfVersionNeeds.ReadNeeds(bytes, "plain.so");
        act.Should().Throw<InvalidDataException>().WithMessage("plain.so has no .gnu.version_r section*");
    }

    [Fact]
    public void Marking_a_version_the_file_does_not_need_is_refused()
    {
        var act = () => ElfVersionNeeds.MarkWeak(File.ReadAllBytes(Wrapper), "w.so", ["GLIBCXX_9.9"]);
        act.Should().Throw<InvalidDataException>().WithMessage("*does not require symbol version GLIBCXX_9.9*");
    }

    static string FindHostLibStdCxx() =>
        File.ReadLines("/proc/self/maps").Select(l => l.IndexOf('/') is var i and >= 0 ? l[i..].Trim() : "")
            .First(p => Path.GetFileName(p).StartsWith("libstdc++.so", StringComparison.Ordinal));
}
