// The one include every C# script loads (#load "../lmharness.csx"): the LMHarness assemblies as `./lmh` (or
// `dotnet build core/LMHarness.Lab -c Release`) builds them. LMHarness.Core is the model and training library,
// LMHarness.Lab the experiments, reports and plots on top of it; TorchSharp for scripts that touch tensors.
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Core.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/LMHarness.Lab.dll"
#r "core/LMHarness.Lab/bin/Release/net10.0/linux-x64/TorchSharp.dll"
