using System.Buffers.Binary;
using System.Text;

namespace LMHarness.Native;

/// <summary>One symbol version a shared library requires from another: (file, version name, flags).</summary>
/// <param name="File">The library the version is required from, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Name">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="Flags">The <c>vna_flags</c> field; bit 0x2 (<c>VER_FLG_WEAK</c>) makes a missing version non-fatal.</param>
/// <param name="FlagsOffset">Byte offset of the 16-bit <c>vna_flags</c> field in the file.</param>
public sealed record ElfVersionNeed(string File, string Name, ushort Flags, long FlagsOffset)
{
    /// <summary>True when the loader treats this requirement as optional.</summary>
    public bool IsWeak => (Flags & ElfVersionNeeds.VerFlagWeak) != 0;
}

/// <summary>
/// Reads and edits the GNU symbol-versioning sections of a 64-bit little-endian ELF shared object:
/// <c>.gnu.version_r</c> (versions it needs, Elf64_Verneed/Elf64_Vernaux) and <c>.gnu.version_d</c>
/// (versions it defines, Elf64_Verdef/Elf64_Verdaux). See the LSB "Symbol Versioning" chapter.
/// </summary>
/// <remarks>
/// Why: TorchSharp 0.107's <c>libLibTorchSharp.so</c> was linked with GCC 13 and declares
/// GLIBCXX_3.4.32 for <c>std::ios_base_library_init()</c>, a symbol it never calls. glibc refuses to
/// load it where libstdc++ is older (Debian 12, Ubuntu 22.04). Marking that single requirement
/// <c>VER_FLG_WEAK</c> turns the refusal into nothing, and changes no code or relocation.
/// Every malformed input raises <see cref="InvalidDataException"/> naming the file and the problem.
/// </remarks>
public static class ElfVersionNeeds
{
    public const ushort VerFlagWeak = 0x2;
    const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe;

    /// <summary>Every version requirement in the file's <c>.gnu.version_r</c> section.</summary>
    public static IReadOnlyList<ElfVersionNeed> ReadNeeds(byte[] elf, string fileName)
    {
        var image = new ElfImage(elf, fileName);
        var section = image.FindSection(ShtGnuVerneed)
            ?? throw image.Error("has no .gnu.version_r section (no symbol versions are required)");
        var needs = new List<ElfVersionNeed>();
        long entry = section.Offset;
        for (int i = 0; i < section.Info; i++)
        {
            ushort count = image.U16(entry + 2);
            string file = image.String(section.Link, image.U32(entry + 4));
            long aux = entry + image.U32(entry + 8);
            for (int j = 0; j < count; j++)
            {
                needs.Add(new ElfVersionNeed(file, image.String(section.Link, image.U32(aux + 8)), image.U16(aux + 4), aux + 4));
                uint nextAux = image.U32(aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            uint next = image.U32(entry + 12);
            if (next == 0) break;
            entry += next;
        }
        return needs;
    }

    /// <summary>Every version name the file defines in <c>.gnu.version_d</c> (e.g. all GLIBCXX_* of a libstdc++).</summary>
    public static IReadOnlySet<string> ReadDefinitions(byte[] elf, string fileName)
    {
        var image = new ElfImage(elf, fileName);
        var section = image.FindSection(ShtGnuVerdef)
            ?? throw image.Error("has no .gnu.version_d section (it defines no symbol versions)");
        var names = new HashSet<string>(StringComparer.Ordinal);
        long entry = section.Offset;
        for (int i = 0; i < section.Info; i++)
        {
            // The first Verdaux of each Verdef names the version; later ones name its parents.
            names.Add(image.String(section.Link, image.U32(entry + image.U32(entry + 12))));
            uint next = image.U32(entry + 16);
            if (next == 0) break;
            entry += next;
        }
        return names;
    }

    /// <summary>
    /// Returns a copy of <paramref name="elf"/> in which the named requirements are marked weak.
    /// Throws when a name is not among the file's requirements, so a typo never passes silently.
    /// </summary>
    public static byte[] MarkWeak(byte[] elf, string fileName, IEnumerable<string> versionNames)
    {
        var needs = ReadNeeds(elf, fileName);
        var copy = (byte[])elf.Clone();
        foreach (var name in versionNames)
        {
            var matches = needs.Where(n => n.Name == name).ToList();
            if (matches.Count == 0)
                throw new InvalidDataException($"{fileName}: it does not require symbol version {name}, so there is nothing to mark weak.");
            foreach (var need in matches)
                BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)need.FlagsOffset), (ushort)(need.Flags | VerFlagWeak));
        }
        return copy;
    }

    sealed record Section(uint Type, long Offset, long Size, uint Link, uint Info);

    /// <summary>Bounds-checked view of an ELF64 LE file's section table.</summary>
    sealed class ElfImage
    {
        readonly byte[] _b;
        readonly string _name;
        readonly Section[] _sections;

        public ElfImage(byte[] bytes, string name)
        {
            _b = bytes; _name = name;
            if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
                throw Error("is not an ELF file (bad magic number)");
            if (bytes[4] != 2 || bytes[5] != 1)
                throw Error("is not a 64-bit little-endian ELF file");
            long shoff = (long)U64(0x28);
            ushort shentsize = U16(0x3a), shnum = U16(0x3c);
            if (shoff == 0 || shnum == 0) throw Error("has no section header table");
            if (shentsize < 64) throw Error($"has an invalid section header size {shentsize}");
            if (shoff + (long)shnum * shentsize > bytes.Length) throw Error("is truncated (section header table lies past the end of the file)");
            _sections = new Section[shnum];
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                var s = new Section(U32(h + 4), (long)U64(h + 0x18), (long)U64(h + 0x20), U32(h + 0x28), U32(h + 0x2c));
                if (s.Type != 8 /* SHT_NOBITS */ && s.Offset + s.Size > bytes.Length)
                    throw Error($"is truncated (section {i} lies past the end of the file)");
                _sections[i] = s;
            }
        }

        public Section? FindSection(uint type) => _sections.FirstOrDefault(s => s.Type == type);

        public string String(uint tableIndex, uint offset)
        {
            if (tableIndex >= _sections.Length) throw Error($"links to a missing string table {tableIndex}");
            var table = _sections[tableIndex];
            if (offset >= table.Size) throw Error($"has a string offset {offset} outside its string table");
            int start = checked((int)(table.Offset + offset));
            int end = Array.IndexOf(_b, (byte)0, start, (int)(table.Size - offset));
            if (end < 0) throw Error("has an unterminated string in its string table");
            return Encoding.ASCII.GetString(_b, start, end - start);
        }

        public ushort U16(long at) => BinaryPrimitives.ReadUInt16LittleEndian(Slice(at, 2));
        public uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(Slice(at, 4));
        public ulong U64(long at) => BinaryPrimitives.ReadUInt64LittleEndian(Slice(at, 8));

        ReadOnlySpan<byte> Slice(long at, int length) =>
            at < 0 || at + length > _b.Length ? throw Error($"is truncated (read at byte {at} past its end {_b.Length})") : _b.AsSpan((int)at, length);

        public InvalidDataException Error(string problem) => new($"{_name} {problem}.");
    }
}
