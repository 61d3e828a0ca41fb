// The one include every F# script loads (#load "../lmharness.fsx"): the LMHarness assemblies as `./lmh` (or
// `dotnet build core/LMHarness.Lab -c Release`) builds them, the same #r lines as lmharness.csx. The LMHarness
// assemblies resolve their other dependencies from the folder they were built into.
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Core.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Lab.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/TorchSharp.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/OxyPlot.dll"

// F# Interactive may touch TorchSharp before any LMHarness type runs its module initializer: load natives first.
LMHarness.Native.NativeLoader.EnsureLoaded()
