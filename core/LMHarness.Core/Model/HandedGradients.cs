using static TorchSharp.torch;

namespace LMHarness.Model;

/// <summary>
/// The managed handles of the gradients a custom autograd function's backward returns to autograd
/// (<see cref="ActivationRecompute"/>, <see cref="FusedLinearCrossEntropy"/>). Autograd keeps its own reference to each
/// gradient, so the handle can go as soon as autograd has taken it, but not inside the backward that returns it, and
/// not to a dispose scope or the GC: on CUDA, libtorch runs backward on its own thread, where no scope exists. So a
/// backward hands them here; the next custom backward on the same thread (calls on one thread run one after another,
/// so autograd has taken the earlier ones by then) disposes them, and <see cref="Release"/> disposes the rest once
/// <c>backward()</c> has returned.
/// </summary>
public static class HandedGradients
{
    static readonly object Gate = new();
    static readonly List<(int Thread, List<Tensor> Tensors)> Handed = [];

    /// <summary>
    /// Disposes the managed handles of the gradients earlier backward calls returned to autograd. Call after
    /// <c>backward()</c> has returned (the trainer does, once per step); calling it while a backward is running
    /// on another thread would free handles autograd has not taken yet.
    /// </summary>
    public static void Release() => ReleaseOf(thread: null);

    /// <summary>Number of gradient handles waiting for <see cref="Release"/> (for tests and diagnostics).</summary>
    public static int Pending
    {
        get { lock (Gate) return Handed.Sum(h => h.Tensors.Count); }
    }

    /// <summary>
    /// Called first in a custom backward: the handles this thread returned to autograd in its previous call have been
    /// taken by now.
    /// </summary>
    internal static void ReleaseThisThread() => ReleaseOf(Environment.CurrentManagedThreadId);

    /// <summary>Keeps <paramref name="tensors"/> (detached from every dispose scope) until they can be disposed.</summary>
    internal static void Hand(List<Tensor> tensors)
    {
        lock (Gate) Handed.Add((Environment.CurrentManagedThreadId, tensors));
    }

    static void ReleaseOf(int? thread)
    {
        List<Tensor> done = [];
        lock (Gate)
        {
            for (var i = Handed.Count - 1; i >= 0; i--)
            {
                if (thread is not null && Handed[i].Thread != thread) continue;
                done.AddRange(Handed[i].Tensors);
                Handed.RemoveAt(i);
            }
        }
        foreach (var t in done) t.Dispose();
    }
}
