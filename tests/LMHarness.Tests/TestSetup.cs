using System.Runtime.CompilerServices;
using LMHarness.Native;

namespace LMHarness.Tests;

static class TestSetup
{
    /// <summary>Tests may call TorchSharp before any LMHarness type: apply the native fix first.</summary>
    [ModuleInitializer]
    internal static void Init() => NativeLoader.EnsureLoaded();
}
