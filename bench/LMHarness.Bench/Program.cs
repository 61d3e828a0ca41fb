using System.Reflection;
using LMHarness.Bench;

// Every IBench in this assembly is a subcommand; no argument lists them.
var benches = Assembly.GetExecutingAssembly().GetTypes()
    .Where(t => typeof(IBench).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
    .Select(t => (IBench)Activator.CreateInstance(t)!)
    .OrderBy(b => b.Name).ToList();

if (args.Length == 0 || benches.All(b => b.Name != args[0]))
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/LMHarness.Bench -- <bench> [args]");
    foreach (var b in benches) Console.WriteLine($"  {b.Name,-16} {b.Description}");
    return args.Length == 0 ? 0 : 2;
}
LMHarness.Native.NativeLoader.EnsureLoaded();
benches.First(b => b.Name == args[0]).Run(args[1..]);
return 0;
