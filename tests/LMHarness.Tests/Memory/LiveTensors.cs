using TorchSharp;

namespace LMHarness.Tests.Memory;

/// <summary>
/// The live native tensors of the calling thread: every tensor created on it (in a dispose scope or outside one) minus
/// every one disposed on it. A tensor left to the garbage collector is disposed later on the finalizer thread, so it
/// stays counted here: the count catches reliance on the collector as well as a plain leak, whether or not a collection
/// happens to run (on a GPU such a tensor is device memory the caching allocator cannot reuse until then).
/// </summary>
static class LiveTensors
{
    public static long Count
    {
        get
        {
            var s = DisposeScopeManager.Statistics;
            return s.CreatedInScopeCount + s.CreatedOutsideScopeCount - s.DisposedInScopeCount - s.DisposedOutsideScopeCount;
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a new thread with no dispose scope, as libtorch's autograd runs a custom backward
    /// (on the CPU the caller's thread, on CUDA a thread of its own), and returns what is left live on that thread.
    /// </summary>
    public static long LeftOnAThread(Action work)
    {
        long live = 0;
        var worker = new Thread(() =>
        {
            DisposeScopeManager.Statistics.Reset();
            work();
            live = Count;
        });
        worker.Start();
        worker.Join();
        return live;
    }

    /// <summary>Runs <paramref name="call"/> <paramref name="calls"/> times and returns the live count after each call.</summary>
    public static long[] After(int calls, Action<int> call)
    {
        var counts = new long[calls];
        for (var i = 0; i < calls; i++)
        {
            call(i);
            counts[i] = Count;
        }
        return counts;
    }

    /// <summary>
    /// Asserts that the count after the last call equals the count after the second (the first may create what lives on,
    /// such as optimizer state or a cache; nothing after it may).
    /// </summary>
    public static void ShouldStayFlat(this long[] counts, string path) =>
        counts[^1].Should().Be(counts[1], "{0} must dispose every tensor it makes (live tensors after each call: {1})", path, string.Join(", ", counts));
}
