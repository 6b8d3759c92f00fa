namespace EvoQuant.Onnx;

/// <summary>Keeps a pass over a big model's weights bounded in memory. Each weight read from external data
/// is a large array that is garbage once its quantized copy exists; the collector frees the large-object
/// heap only at full collections, whose budget grows with the allocations, so on its own it let dead
/// weights pile up to 1-2x the model (issue 21: 0.81 GB of weights, 1.63 GB peak for dynamic quantization
/// without the ONNX Runtime check). After every <see cref="Budget"/> bytes of large reads a full,
/// non-compacting collection runs: cheap, since a rewrite keeps little alive besides the quantized
/// weights, and the dead arrays go back before the next ones are read.</summary>
internal static class LargeTensorReads
{
    /// <summary>Reads smaller than this are left to the collector's own schedule.</summary>
    private const long Large = 4L * 1024 * 1024;

    /// <summary>Bytes of large reads between two collections.</summary>
    internal const long Budget = 64L * 1024 * 1024;

    private static long _sinceCollection;

    /// <summary>Called before a read of <paramref name="bytes"/> allocates its array.</summary>
    public static void BeforeRead(long bytes)
    {
        if (bytes < Large) return;
        if (Interlocked.Add(ref _sinceCollection, bytes) < Budget) return;
        Collect();
    }

    /// <summary>Returns dead weights now: a full, non-compacting collection (also once a model's
    /// weights are written and let go, before a session maps the written ones).</summary>
    public static void Collect()
    {
        Interlocked.Exchange(ref _sinceCollection, 0);
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
    }
}
