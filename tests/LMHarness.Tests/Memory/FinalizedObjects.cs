using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace LMHarness.Tests.Memory;

/// <summary>
/// Counts the objects the garbage collector's finalizer thread finalizes, by type, from the runtime's own events
/// (FinalizeObject). An object that owns native memory and reaches its finalizer was not disposed: for TorchSharp's
/// <see cref="TorchSharp.Scalar"/> (a native c10::Scalar behind every implicit double -> Scalar conversion) hundreds of
/// those a step pinned the C heap until a collection happened to run.
/// </summary>
sealed class FinalizedObjects : EventListener
{
    // Static: the base constructor reports existing event sources before this object's fields are initialised.
    static readonly ConcurrentDictionary<nint, int> Counts = new();
    static int finalizerRuns;

    protected override void OnEventSourceCreated(EventSource source)
    {
        // GC keyword (0x1) at Verbose level carries FinalizeObject; 0x80000 (type) gives its TypeID.
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)(0x1 | 0x80000));
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName == "FinalizeObject" && e.PayloadNames is { } names)
            Counts.AddOrUpdate(e.Payload![names.IndexOf("TypeID")] switch { IntPtr p => p, var v => (nint)Convert.ToInt64(v) }, 1, (_, n) => n + 1);
        else if (e.EventName is { } name && name.StartsWith("GCFinalizersEnd", StringComparison.Ordinal))
            Interlocked.Increment(ref finalizerRuns);
    }

    /// <summary>How many objects of <paramref name="type"/> have been finalized while listening.</summary>
    public int Of(Type type) => Counts.GetValueOrDefault(type.TypeHandle.Value);

    /// <summary>Collects, runs every pending finalizer and waits until the runtime has reported them (events arrive in order,
    /// so the end-of-finalizers event of this collection comes after its FinalizeObject events).</summary>
    public void Flush()
    {
        // Twice: what a finalizable object kept alive is collected only by the collection after its finalizer ran.
        for (var round = 0; round < 2; round++)
        {
            var before = Volatile.Read(ref finalizerRuns);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Volatile.Read(ref finalizerRuns) == before)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the runtime reported no end of finalizers within 20 s");
                Thread.Sleep(20);
            }
        }
    }
}
