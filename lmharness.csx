// The one include every C# script loads (#load "../lmharness.csx"): the LMHarness assemblies as `./lmh` (or
// `dotnet build core/LMHarness.Lab -c Release`) builds them. LMHarness.Core is the model and training library,
// LMHarness.Lab the experiments, reports and plots on top of it. TorchSharp (tensors) and OxyPlot (PlotModel) appear
// in their public API, so a script that uses them compiles against them; upstream dotnet-script copies exactly these
// DLLs into its cache, and the LMHarness assemblies resolve everything else from the folder they were built into.
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Core.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Lab.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/TorchSharp.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/OxyPlot.dll"

// Natives first (the GLIBCXX patch), in case a script touches TorchSharp before any LMHarness type.
LMHarness.Native.NativeLoader.EnsureLoaded();
